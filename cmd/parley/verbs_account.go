package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
)

func init() {
	register("login", "login --server URL --email EMAIL [--password-file FILE|-]", login)
	register("logout", "logout", logout)
	register("whoami", "whoami [--json]", whoami)
	register("join", "join <invite-link> [--server URL] [--json]", join)
	register("account create", "account create --email EMAIL --name NAME --role admin|mediator|records [--password-file FILE|-]  (an administrator's only: a second administrator approves a mediator's or records clerk's first password)", accountCreate)
}

func login(ctx context.Context, args []string) error {
	fs := newFlags("login")
	srv := fs.String("server", "http://127.0.0.1:8080", "Parley server URL")
	email := fs.String("email", "", "your email")
	pwFile := fs.String("password-file", "-", "file holding the password, or - for standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usagef("--email is required")
	}
	if *pwFile == "-" {
		fmt.Fprint(os.Stderr, "Password: ")
	}
	pw, err := readSecret(*pwFile)
	if err != nil {
		return err
	}
	c := client.New(*srv, "")
	s, err := c.Login(ctx, *email, pw)
	if err != nil {
		return err
	}
	if err := saveSession(cliSession{Server: *srv, Token: s.Token}); err != nil {
		return err
	}
	fmt.Printf("Signed in as %s (%s) until %s.\n", s.Account.Name, s.Account.Role, s.Expires.Local().Format("2 Jan 2006 15:04"))
	return nil
}

// logout ends the session on the server and forgets it here. The session
// file goes even when the server cannot be told (unreachable, failing):
// this computer keeps no token, and the person is told, in one line, that
// the session still ends on its own or from another device. A server that
// no longer knows the session (401) has nothing to end.
func logout(ctx context.Context, args []string) error {
	c, err := apiClient()
	if err != nil {
		return err
	}
	told := c.Logout(ctx)
	if ce := (*client.Error)(nil); errors.As(told, &ce) && ce.Status == http.StatusUnauthorized {
		told = nil
	}
	if err := forgetSession(); err != nil {
		return err
	}
	if told != nil {
		return errors.New("signed out on this computer, but the server could not be told: the session ends on its own after 7 days unused, or sooner if you change your password from another device or ask the program's administrator to end it")
	}
	return nil
}

func whoami(ctx context.Context, args []string) error {
	fs := newFlags("whoami")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	a, err := c.Me(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a)
	}
	fmt.Printf("%s <%s> — %s, account %s\n", a.Name, a.Email, a.Role, a.ID)
	return nil
}

func join(ctx context.Context, args []string) error {
	fs := newFlags("join")
	srv := fs.String("server", "", "Parley server URL (default: taken from the link)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "one invite link"); err != nil {
		return err
	}
	link := fs.Arg(0)
	base := *srv
	if base == "" {
		b, _, ok := cutJoinPath(link)
		if !ok {
			return usagef("the link must look like https://HOST/join#TOKEN (or pass --server and the token)")
		}
		base = b
	}
	c := client.New(base, "")
	s, err := c.Join(ctx, link)
	if err != nil {
		return err
	}
	if err := saveSession(cliSession{Server: base, Token: s.Token}); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(s)
	}
	fmt.Printf("Joined case %s as %s. You are signed in on this computer.\n", s.CaseID, s.Account.Name)
	return nil
}

func cutJoinPath(link string) (base, token string, ok bool) {
	for i := 0; i+6 <= len(link); i++ {
		if link[i:i+6] == "/join#" {
			return link[:i], link[i+6:], true
		}
	}
	return "", "", false
}

// accountCreate makes a staff account as the signed-in administrator. An
// administrator's account takes the password read from --password-file; a
// mediator's or records clerk's takes none (the server refuses one): it
// waits for a second administrator to approve its first password
// (`parley admin user approve-reset`), as a reset does.
func accountCreate(ctx context.Context, args []string) error {
	fs := newFlags("account create")
	email := fs.String("email", "", "email")
	name := fs.String("name", "", "full name")
	role := fs.String("role", "", "admin, mediator or records")
	pwFile := fs.String("password-file", "-", "file holding the new administrator's password, or - for standard input (not for a mediator or records clerk)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" || *name == "" || *role == "" {
		return usagef("--email, --name and --role are required")
	}
	approved := *role == string(api.RoleMediator) || *role == string(api.RoleRecords)
	var pw string
	if approved {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "password-file" })
		if given {
			return usagef("--password-file is for an administrator's account: a second administrator approves a mediator's or records clerk's first password, so you choose none")
		}
	} else {
		var err error
		if pw, err = readSecret(*pwFile); err != nil {
			return err
		}
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	a, err := c.CreateAccount(ctx, *email, *name, *role, pw)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a)
	}
	fmt.Printf("Created %s account %s for %s.\n", a.Role, a.ID, a.Email)
	if a.NoPassword {
		fmt.Printf("It has no password yet: a second administrator approves its first one (parley admin user approve-reset --email %s) and gives it to them.\n", a.Email)
	}
	return nil
}
