package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
)

// Staff account management through the API, as the signed-in
// administrator (policy decides; the server audits). The operator's own
// verbs that write the store directly are in verbs_admin.go.
func init() {
	register("admin user disable", "admin user disable --email EMAIL", adminUserDisable)
	register("admin user enable", "admin user enable --email EMAIL", adminUserEnable)
	register("admin user reset-password", "admin user reset-password --email EMAIL  (a mediator's or records clerk's: a request a second administrator approves)", adminUserResetPassword)
	register("admin user approve-reset", "admin user approve-reset --email EMAIL  (another administrator's reset request; prints the temporary password)", adminUserApproveReset)
	register("admin user decline-reset", "admin user decline-reset --email EMAIL", adminUserDeclineReset)
	register("password change", "password change [--current-file FILE|-] [--new-file FILE|-]  (from standard input: the current password on the first line, the new one on the second)", passwordChange)
}

// accountByEmail finds a staff account through the account list (which
// holds staff accounts only).
func accountByEmail(ctx context.Context, c *client.Client, email string) (api.Account, error) {
	list, err := c.Accounts(ctx)
	if err != nil {
		return api.Account{}, err
	}
	want := strings.ToLower(strings.TrimSpace(email))
	for _, a := range list {
		if a.Email == want {
			return a, nil
		}
	}
	return api.Account{}, fmt.Errorf("no staff account has the email %s (participants are not listed: their mediator manages who takes part)", email)
}

func staffTarget(ctx context.Context, verb string, args []string) (*client.Client, api.Account, *bool, error) {
	fs := newFlags(verb)
	email := fs.String("email", "", "the account's email")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, api.Account{}, nil, err
	}
	if *email == "" {
		return nil, api.Account{}, nil, usagef("--email is required")
	}
	c, err := apiClient()
	if err != nil {
		return nil, api.Account{}, nil, err
	}
	a, err := accountByEmail(ctx, c, *email)
	return c, a, asJSON, err
}

func adminUserDisable(ctx context.Context, args []string) error {
	c, a, asJSON, err := staffTarget(ctx, "admin user disable", args)
	if err != nil {
		return err
	}
	out, err := c.DisableAccount(ctx, a.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Printf("Disabled %s (%s, %s): their sessions have ended and they cannot sign in until enabled.\n", out.Name, out.Email, out.Role)
	return nil
}

func adminUserEnable(ctx context.Context, args []string) error {
	c, a, asJSON, err := staffTarget(ctx, "admin user enable", args)
	if err != nil {
		return err
	}
	out, err := c.EnableAccount(ctx, a.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Printf("Enabled %s (%s, %s): they can sign in again.\n", out.Name, out.Email, out.Role)
	return nil
}

func adminUserResetPassword(ctx context.Context, args []string) error {
	c, a, asJSON, err := staffTarget(ctx, "admin user reset-password", args)
	if err != nil {
		return err
	}
	out, err := c.ResetPassword(ctx, a.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	if out.AwaitingApproval {
		fmt.Printf("Requested a password reset for %s (%s, %s). Their sessions have ended; their password is unchanged.\n", out.Account.Name, out.Account.Email, out.Account.Role)
		fmt.Printf("A second administrator must approve it: parley admin user approve-reset --email %s\n", out.Account.Email)
		return nil
	}
	return printTemporary(out)
}

func printTemporary(out api.ResetPasswordResponse) error {
	fmt.Printf("Reset the password of %s (%s). Their sessions have ended.\n", out.Account.Name, out.Account.Email)
	fmt.Printf("Temporary password (shown once; give it to them in person or by phone): %s\n", out.TemporaryPassword)
	fmt.Println("At their next sign-in they must choose a new password before anything else.")
	return nil
}

func adminUserApproveReset(ctx context.Context, args []string) error {
	c, a, asJSON, err := staffTarget(ctx, "admin user approve-reset", args)
	if err != nil {
		return err
	}
	out, err := c.ApproveReset(ctx, a.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	return printTemporary(out)
}

func adminUserDeclineReset(ctx context.Context, args []string) error {
	c, a, asJSON, err := staffTarget(ctx, "admin user decline-reset", args)
	if err != nil {
		return err
	}
	out, err := c.DeclineReset(ctx, a.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Printf("Declined the password reset of %s (%s): their password is unchanged; they sign in with it again.\n", out.Name, out.Email)
	return nil
}

func passwordChange(ctx context.Context, args []string) error {
	fs := newFlags("password change")
	curFile := fs.String("current-file", "-", "file holding your current password, or - for standard input")
	newFile := fs.String("new-file", "-", "file holding the new password, or - for standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var cur, next string
	var err error
	if *curFile == "-" && *newFile == "-" {
		fmt.Fprint(os.Stderr, "Current password, then the new one, each on its own line:\n")
		b, err := readAtMost(os.Stdin, 2*maxSecretFile, "the passwords on standard input")
		if err != nil {
			return err
		}
		lines := strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n")
		if len(lines) < 2 || lines[1] == "" {
			return usagef("give the current password on the first line and the new one on the second")
		}
		cur, next = lines[0], lines[1]
	} else {
		if cur, err = readSecret(*curFile); err != nil {
			return err
		}
		if next, err = readSecret(*newFile); err != nil {
			return err
		}
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	s, err := c.ChangePassword(ctx, cur, next)
	if err != nil {
		return err
	}
	sess, err := loadSession()
	if err != nil {
		return err
	}
	sess.Token = s.Token
	if err := saveSession(sess); err != nil {
		return err
	}
	fmt.Println("Password changed. Your other sessions (other browsers, other computers) have ended; this one carries on.")
	return nil
}
