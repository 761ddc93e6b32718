//go:build !linux

package sdk

// execCache keeps nothing on systems other than Linux: there is no sealed
// copy to reuse.
type execCache struct{}

// close does nothing.
func (c *execCache) close() {}

// prepare returns what to execute for the plugin binary at path.
// With a checksum, the file is hashed first and then started by path: on
// systems other than Linux a file swapped between the two is not detected.
func (c *execCache) prepare(path string, sum []byte) (*executable, error) {
	src, err := openBinary(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if len(sum) > 0 {
		if err := hashCopy(path, nil, src, sum); err != nil {
			return nil, err
		}
	}
	return &executable{path: path}, nil
}
