package normalize

import "testing"

func TestPlainText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"<p>Which are organelles?</p>\n", "Which are organelles?"},
		{"<p>Is 2 &lt; 3 &amp;&amp; 3 &gt; 2?</p>", "Is 2 < 3 && 3 > 2?"},
		{"<div><strong>Bold</strong> and <em>em</em><br/>next line</div>", "Bold and em next line"},
		{"a < b and c > d", "a < b and c > d"},
		{"plain   text\n with  spaces", "plain text with spaces"},
		{"<!-- note -->Text", "Text"},
		{"Caf&eacute; &#8212; d&#xE9;j&agrave; vu", "Café — déjà vu"},
		{"<p></p>", ""},
	}
	for _, tt := range tests {
		if got := plainText(tt.in); got != tt.want {
			t.Errorf("plainText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
