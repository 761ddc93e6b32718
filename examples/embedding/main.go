// Command embedding shows how an application mounts the LRS settings panel
// and its API under its own pages, behind its own login: the application
// maps its users to the organization they administer through the
// panel's Authorizer, so each admin sees and changes only their own
// organization's LRS settings.
//
// Usage:
//
//	embedding -config lrsbridge.yaml [-listen 127.0.0.1:8090]
//
// Log in at http://127.0.0.1:8090/ as alice (admin of acme) or bob (admin
// of beacon); the panel is at /admin/lrs/. The login is a stand-in: it
// trusts the name typed in.
package main

import (
	"context"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
	"github.com/learningflow/lrsbridge/host/panel"
)

func main() {
	cfgPath := flag.String("config", "lrsbridge.yaml", "lrsbridge configuration `file`")
	listen := flag.String("listen", "127.0.0.1:8090", "`address` to serve on")
	flag.Parse()
	cfg, err := host.LoadConfig(*cfgPath, os.Environ())
	if err != nil {
		log.Fatal(err)
	}
	h, err := host.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	app, err := newApp(h, map[string]string{"alice": "acme", "bob": "beacon"})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *listen, Handler: app, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	fmt.Printf("log in at http://%s/ (alice or bob)\n", *listen)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Print(err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		log.Print(err) // what is left stays queued on disk
	}
}

// newApp is the application: its login and home page, and the LRS panel
// under /admin/lrs/ for the organization each user administers (users
// maps user names to organizations).
func newApp(h *host.Host, users map[string]string) (http.Handler, error) {
	adminOf := httpapi.AuthorizerFunc(func(r *http.Request, org string, _ httpapi.Action) error {
		c, err := r.Cookie("user")
		if err != nil || users[c.Value] == "" {
			return httpapi.ErrUnauthenticated
		}
		if users[c.Value] != org {
			return httpapi.ErrForbidden
		}
		return nil
	})
	lrs, err := panel.New(h, panel.Options{Authorizer: adminOf, Prefix: "/admin/lrs"})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/lrs/", lrs)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_ = home.Execute(w, nil)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "user", Value: r.FormValue("user"), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/admin/lrs/", http.StatusSeeOther)
	})
	return mux, nil
}

var home = template.Must(template.New("home").Parse(`<!doctype html><title>App</title>
<form method="post" action="/login"><label>User <input name="user"></label> <button>Log in</button></form>`))
