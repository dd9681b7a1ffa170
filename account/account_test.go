package account

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/hashcost"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
	"github.com/redis/go-redis/v9"
)

// Passwords are long and distinctive so that a scan of the store for them
// cannot match by accident.
const (
	testPassword  = "Canary-Passw0rd-9d41c2e7"
	otherPassword = "Another-Passw0rd-51be0a3f"
)

// newService returns a Service over a fresh Dir store and the Dir's root.
func newService(t *testing.T) (*Service, string) {
	t.Helper()
	root := t.TempDir()
	return newServiceOver(t, root, nil), root
}

// newServiceOver returns a Service over a Dir store at root, seen through
// wrap if it is not nil (a store that fails or acts at a chosen write).
func newServiceOver(t *testing.T, root string, wrap func(objstore.Store) objstore.Store) *Service {
	t.Helper()
	var obj objstore.Store
	obj, err := objstore.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		obj = wrap(obj)
	}
	return newServiceOn(t, obj)
}

// newServiceOn returns a Service over obj, with a fresh records key.
func newServiceOn(t *testing.T, obj objstore.Store) *Service {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	meta, err := metastore.New(obj, key)
	if err != nil {
		t.Fatal(err)
	}
	return NewService(meta, ratelimit.NewMemory())
}

func createMediator(t *testing.T, svc *Service, email string) Account {
	t.Helper()
	a, err := svc.Create(t.Context(), NewAccount{Email: email, Name: "Mia Mediator", Role: policy.RoleMediator, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	ie, ok := fault.AsInvalid(err)
	if !ok {
		t.Fatalf("err = %v, want *fault.InvalidError for %q", err, field)
	}
	if ie.Field != field {
		t.Fatalf("InvalidError field = %q (%v), want %q", ie.Field, err, field)
	}
}

func TestCreateValidates(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	good := NewAccount{Email: "val@example.com", Name: "Val", Role: policy.RoleMediator, Password: testPassword}
	tests := []struct {
		name  string
		edit  func(*NewAccount)
		field string
	}{
		{"bad email", func(n *NewAccount) { n.Email = "not-an-email" }, "email"},
		{"email with display name", func(n *NewAccount) { n.Email = "Val <val@example.com>" }, "email"},
		{"staff without email", func(n *NewAccount) { n.Email = "" }, "email"},
		{"long email", func(n *NewAccount) { n.Email = strings.Repeat("a", MaxEmailLen) + "@example.com" }, "email"},
		{"short password", func(n *NewAccount) { n.Password = "short-pw" }, "password"},
		{"staff without password", func(n *NewAccount) { n.Password = "" }, "password"},
		{"password one short", func(n *NewAccount) { n.Password = strings.Repeat("p", MinPasswordLen-1) }, "password"},
		{"long password", func(n *NewAccount) { n.Password = strings.Repeat("p", MaxPasswordLen+1) }, "password"},
		{"bad role", func(n *NewAccount) { n.Role = "superuser" }, "role"},
		{"empty role", func(n *NewAccount) { n.Role = "" }, "role"},
		{"empty name", func(n *NewAccount) { n.Name = "   " }, "name"},
		{"long name", func(n *NewAccount) { n.Name = strings.Repeat("n", MaxNameLen+1) }, "name"},
		{"participant with bad email", func(n *NewAccount) { n.Role, n.Password, n.Email = policy.RoleParticipant, "", "nope" }, "email"},
		{"participant with short password", func(n *NewAccount) { n.Role, n.Password = policy.RoleParticipant, "short" }, "password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := good
			tc.edit(&n)
			_, err := svc.Create(ctx, n)
			wantInvalid(t, err, tc.field)
		})
	}
	// Nothing was stored by any refused Create.
	list, err := svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("refused Creates left %d accounts", len(list))
	}
	if _, err := svc.ByEmail(ctx, good.Email); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("refused Creates claimed the email: %v", err)
	}
}

func TestCreateDuplicateEmailCaseInsensitive(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	first := createMediator(t, svc, "Alice@Example.com")
	if first.Email != "alice@example.com" {
		t.Fatalf("email stored as %q, want normalised lower case", first.Email)
	}
	if first.PasswordHash == "" || strings.Contains(first.PasswordHash, testPassword) {
		t.Fatal("password not hashed")
	}
	if !strings.HasPrefix(first.PasswordHash, "$argon2id$") {
		t.Fatalf("hash %q is not argon2id", first.PasswordHash)
	}
	_, err := svc.Create(ctx, NewAccount{Email: " ALICE@example.COM", Name: "Imposter", Role: policy.RoleRecords, Password: otherPassword})
	if !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("duplicate email: err = %v, want fault.ErrConflict", err)
	}
	list, err := svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != first.ID {
		t.Fatalf("accounts after duplicate: %+v", list)
	}
	if b, _ := json.Marshal(list); strings.Contains(string(b), "passwordHash") || first.PasswordHash != "" && strings.Contains(string(b), first.PasswordHash) {
		t.Fatal("List returned a password hash")
	}
	got, err := svc.ByEmail(ctx, "aLiCe@example.com")
	if err != nil || got.ID != first.ID {
		t.Fatalf("ByEmail: %+v, %v", got, err)
	}
}

func TestLoginAuthenticateLogout(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	a := createMediator(t, svc, "mia@example.com")

	got, token, sess, err := svc.Login(ctx, "MIA@example.com ", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got.ID != a.ID || sess.AccountID != a.ID {
		t.Fatalf("Login returned account %s / session for %s, want %s", got.ID, sess.AccountID, a.ID)
	}
	if len(token) != 43 {
		t.Fatalf("token %q is not 43 characters", token)
	}
	if !sess.Expires.After(sess.Created) || sess.Expires.Sub(sess.Created) != svc.SessionTTL {
		t.Fatalf("session %v..%v, want TTL %v", sess.Created, sess.Expires, svc.SessionTTL)
	}

	who, s2, err := svc.Authenticate(ctx, token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if who.ID != a.ID || s2.AccountID != a.ID {
		t.Fatalf("Authenticate resolved to %s, want %s", who.ID, a.ID)
	}

	// A different token (same length) is not accepted.
	if _, _, err := svc.Authenticate(ctx, ids.Token()); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("unknown token: err = %v, want ErrUnauthenticated", err)
	}
	for _, bad := range []string{"", "short", token + "x", token[:42]} {
		if _, _, err := svc.Authenticate(ctx, bad); !errors.Is(err, fault.ErrUnauthenticated) {
			t.Fatalf("malformed token %q: err = %v, want ErrUnauthenticated", bad, err)
		}
	}

	// A second session is independent of the first.
	_, token2, _, err := svc.Login(ctx, "mia@example.com", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if token2 == token {
		t.Fatal("two logins returned the same token")
	}

	if err := svc.Logout(ctx, token); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if _, _, err := svc.Authenticate(ctx, token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("after Logout: err = %v, want ErrUnauthenticated", err)
	}
	if _, _, err := svc.Authenticate(ctx, token2); err != nil {
		t.Fatalf("Logout of one session revoked another: %v", err)
	}
	// Logging out twice, or a junk token, is harmless.
	if err := svc.Logout(ctx, token); err != nil {
		t.Fatalf("second Logout: %v", err)
	}
	if err := svc.Logout(ctx, "junk"); err != nil {
		t.Fatalf("Logout of junk token: %v", err)
	}
}

func TestLoginWrongPasswordAndUnknownEmailAlike(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	createMediator(t, svc, "mia@example.com")

	_, tok1, _, errWrong := svc.Login(ctx, "mia@example.com", otherPassword, "192.0.2.1")
	_, tok2, _, errUnknown := svc.Login(ctx, "nobody@example.com", testPassword, "192.0.2.1")
	for name, err := range map[string]error{"wrong password": errWrong, "unknown email": errUnknown} {
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("%s: err = %v, want ErrBadCredentials", name, err)
		}
		if !errors.Is(err, fault.ErrUnauthenticated) {
			t.Fatalf("%s: err = %v does not wrap ErrUnauthenticated", name, err)
		}
	}
	if errWrong.Error() != errUnknown.Error() {
		t.Fatalf("errors tell the cases apart: %q vs %q", errWrong, errUnknown)
	}
	if tok1 != "" || tok2 != "" {
		t.Fatal("failed Login returned a token")
	}
	// Oversized inputs fail the same way, without hashing.
	if _, _, _, err := svc.Login(ctx, "mia@example.com", strings.Repeat("p", MaxPasswordLen+1), "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("oversized password: err = %v", err)
	}
}

// TestLoginGuessingBoundedVictimNotLockedOut plays issue 15 item 4 with the
// shipped limits, on the in-process limiter and on Redis: an attacker who
// knows a mediator's email hammers it with wrong passwords, first from one
// address and then from hundreds. The attacker's guesses stay bounded per
// window, and the mediator, from the address she signs in from, gets in
// with her password during and right after the attack.
func TestLoginGuessingBoundedVictimNotLockedOut(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		svc, _ := newService(t)
		lockoutScenario(t, svc)
	})
	t.Run("redis", func(t *testing.T) {
		svc, _ := newService(t)
		opts, err := redis.ParseURL(testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opts)
		t.Cleanup(func() { c.Close() })
		svc.limiter = ratelimit.NewRedis(c)
		lockoutScenario(t, svc)
	})
}

func lockoutScenario(t *testing.T, svc *Service) {
	ctx := t.Context()
	email := "mia-" + ids.New("x") + "@example.com"
	createMediator(t, svc, email)
	const home = "192.0.2.10"
	// She has signed in from home before.
	if _, _, _, err := svc.Login(ctx, email, testPassword, home); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	// login is a sign-in tried again while the node is busy (every hash
	// slot taken for HashWait: nothing was checked and no guess spent),
	// as a person would press the button again; at most 20 times.
	login := func(password, addr string) (tok string, err error) {
		for range 20 {
			if _, tok, _, err = svc.Login(ctx, email, password, addr); !errors.Is(err, ErrHashBusy) {
				return tok, err
			}
		}
		return tok, err
	}
	victim := func(when, addr string) {
		t.Helper()
		if tok, err := login(testPassword, addr); err != nil || tok == "" {
			t.Fatalf("%s: the real user from %s is refused: %v", when, addr, err)
		}
	}
	// attack makes n wrong guesses from the addresses addr(0..n-1) with 8
	// workers and returns how many reached the password check and how many
	// were refused.
	attack := func(n int, addr func(int) string) (guessed, refused int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Go(func() {
				for i := range next {
					tok, err := login(otherPassword, addr(i))
					mu.Lock()
					switch _, limited := fault.AsRateLimited(err); {
					case tok != "":
						t.Errorf("a wrong password opened a session")
					case errors.Is(err, ErrBadCredentials):
						guessed++
					case limited:
						refused++
					default:
						t.Errorf("attempt %d: %v", i, err)
					}
					mu.Unlock()
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		return guessed, refused
	}

	// One address: it gets a bounded number of guesses, then is refused.
	g, r := attack(40, func(int) string { return "203.0.113.66" })
	if g > svc.LoginLimitPerAccount || r == 0 {
		t.Fatalf("one address: %d guesses reached the password check, %d refused", g, r)
	}
	victim("during a one-address attack", home)
	// An address she never used, with no failures, is not held back by
	// failures from elsewhere either.
	victim("during a one-address attack, from a new address", "198.51.100.20")

	// Hundreds of addresses (IPv4 and IPv6 from different /64s), three
	// tries each: together still a bounded number of guesses.
	g2, r2 := attack(300, func(i int) string {
		if i%2 == 0 {
			return fmt.Sprintf("10.%d.%d.%d", i/3/256/256%256, i/3/256%256, i/3%256)
		}
		return fmt.Sprintf("2001:db8:%x::1", i/3)
	})
	// Per window: the account's budget for unknown addresses plus one
	// slow-lane attempt (the test runs well inside one slow interval).
	if g2 > svc.LoginLimitPerAccount+1 || r2 == 0 {
		t.Fatalf("many addresses: %d guesses reached the password check, %d refused", g2, r2)
	}
	t.Logf("one address: %d guesses, %d refused; many addresses: %d guesses, %d refused", g, r, g2, r2)
	victim("during a many-address attack", home)
	// The attack goes on; she signs in again right after.
	attack(60, func(i int) string { return fmt.Sprintf("172.16.%d.%d", i/256, i%256) })
	victim("right after the attack", home)
	victim("right after the attack, once more", home)

	// The attacker's own address is still refused, even with the right
	// password (it has spent its guesses on this account).
	if _, _, _, err := svc.Login(ctx, email, testPassword, "203.0.113.66"); err == nil {
		t.Fatal("the attacking address got in")
	} else if _, ok := fault.AsRateLimited(err); !ok {
		t.Fatalf("attacking address: err = %v, want rate limited", err)
	}
	// Another account is not affected at all.
	if _, _, _, err := svc.Login(ctx, "other@example.com", otherPassword, "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("other account: err = %v, want ErrBadCredentials (not rate limited)", err)
	}
}

func TestLoginRateLimitRetryAfter(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	createMediator(t, svc, "mia@example.com")
	var err error
	for range svc.LoginLimitPerAccount + 1 {
		_, _, _, err = svc.Login(ctx, " MIA@example.com", otherPassword, "192.0.2.1")
	}
	rl, ok := fault.AsRateLimited(err)
	if !ok {
		t.Fatalf("attempt past the limit: err = %v, want *fault.RateLimitedError", err)
	}
	if rl.RetryAfter <= 0 || rl.RetryAfter > svc.LoginWindow {
		t.Fatalf("RetryAfter = %v, want within (0, %v]", rl.RetryAfter, svc.LoginWindow)
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	svc.LoginLimitPerAddress = 2
	for i := range 2 {
		if _, _, _, err := svc.Login(ctx, "x"+string(rune('a'+i))+"@example.com", otherPassword, "203.0.113.9"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if _, _, _, err := svc.Login(ctx, "xz@example.com", otherPassword, "203.0.113.9"); err == nil {
		t.Fatal("3rd attempt from one address allowed")
	} else if _, ok := fault.AsRateLimited(err); !ok {
		t.Fatalf("3rd attempt from one address: err = %v, want *fault.RateLimitedError", err)
	}
}

func TestExpiredSessionRefused(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	createMediator(t, svc, "mia@example.com")
	svc.SessionTTL = time.Hour
	_, token, sess, err := svc.Login(ctx, "mia@example.com", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	base := sess.Created
	svc.now = func() time.Time { return base.Add(time.Hour - time.Second) }
	if _, _, err := svc.Authenticate(ctx, token); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	// That use slid the session an hour on from then; an hour unused ends it.
	svc.now = func() time.Time { return base.Add(2*time.Hour - time.Second) }
	if _, _, err := svc.Authenticate(ctx, token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("at expiry: err = %v, want ErrUnauthenticated", err)
	}
	svc.now = func() time.Time { return base.Add(30 * 24 * time.Hour) }
	if _, _, err := svc.Authenticate(ctx, token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("long after expiry: err = %v, want ErrUnauthenticated", err)
	}
}

func TestDisabledAccountRefused(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	a := createMediator(t, svc, "mia@example.com")
	_, token, _, err := svc.Login(ctx, "mia@example.com", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metastore.Update(ctx, svc.meta, accountKey(a.ID), func(a *Account) error {
		a.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Authenticate(ctx, token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("disabled account's session: err = %v, want ErrUnauthenticated", err)
	}
	// The right password learns that the account is disabled (and gets no
	// session); a wrong one learns nothing more than for any account.
	if _, tok, _, err := svc.Login(ctx, "mia@example.com", testPassword, "192.0.2.1"); !errors.Is(err, ErrDisabled) || tok != "" {
		t.Fatalf("disabled account's Login: err = %v, token %q, want ErrDisabled and no token", err, tok)
	}
	if _, _, _, err := svc.Login(ctx, "mia@example.com", "a wrong password here", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled account's Login with a wrong password: err = %v, want ErrBadCredentials", err)
	}
}

func TestNothingSecretStoredInClear(t *testing.T) {
	svc, root := newService(t)
	ctx := t.Context()
	const email = "canary.person.3f9e@example.org"
	const name = "Canary-Name-b81d"
	if _, err := svc.Create(ctx, NewAccount{Email: email, Name: name, Role: policy.RoleRecords, Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	_, token, _, err := svc.Login(ctx, email, testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{
		"password": []byte(testPassword),
		"email":    []byte(email),
		"local":    []byte("canary.person"),
		"name":     []byte(name),
		"token":    []byte(token),
	}
	files := 0
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for what, b := range needles {
			if strings.Contains(p, string(b)) {
				t.Errorf("path %s contains the %s", p, what)
			}
		}
		if d.IsDir() {
			return nil
		}
		files++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for what, b := range needles {
			if bytes.Contains(data, b) {
				t.Errorf("%s contains the %s in the clear", p, what)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// account, email index and session: at least a data file each.
	if files < 3 {
		t.Fatalf("only %d files under the store: the scan looked at nothing", files)
	}
}

func TestParticipantWithoutPasswordCannotLogin(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()

	// Created through Create with a claimed email and no password.
	p, err := svc.Create(ctx, NewAccount{Email: "pat@example.com", Name: "Pat Party", Role: policy.RoleParticipant})
	if err != nil {
		t.Fatal(err)
	}
	if p.PasswordHash != "" {
		t.Fatal("participant without password got a hash")
	}
	// Not even the dummy hash's own password may open it.
	for _, pw := range []string{"", testPassword, "parley-no-such-account-placeholder"} {
		if _, tok, _, err := svc.Login(ctx, "pat@example.com", pw, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) || tok != "" {
			t.Fatalf("participant Login with %q: err = %v, token %q", pw, err, tok)
		}
	}

	// Created by invite redemption: the email is kept but not claimed.
	id := ids.New("u")
	q, err := svc.EnsureParticipant(ctx, id, "c_quinn", " Quinn ", "Quinn@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if q.ID != id || q.Role != policy.RoleParticipant || q.Name != "Quinn" || q.Email != "quinn@example.com" || q.PasswordHash != "" {
		t.Fatalf("EnsureParticipant: %+v", q)
	}
	if _, _, _, err := svc.Login(ctx, "quinn@example.com", "parley-no-such-account-placeholder", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("invited participant Login: err = %v", err)
	}
	// EnsureParticipant again returns the same account, unchanged.
	q2, err := svc.EnsureParticipant(ctx, id, "c_other", "Someone Else", "")
	if err != nil {
		t.Fatal(err)
	}
	if q2.ID != id || q2.Name != "Quinn" || !q2.Created.Equal(q.Created) {
		t.Fatalf("second EnsureParticipant changed the account: %+v", q2)
	}
	// A session opened for them (as Join does) works.
	tok, _, err := svc.NewSession(ctx, q2)
	if err != nil {
		t.Fatal(err)
	}
	if a, _, err := svc.Authenticate(ctx, tok); err != nil || a.ID != id {
		t.Fatalf("participant session: %+v, %v", a, err)
	}
}

func TestSetPassword(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	a := createMediator(t, svc, "mia@example.com")
	wantInvalid(t, svc.SetPassword(ctx, a.ID, "short"), "password")
	if err := svc.SetPassword(ctx, a.ID, otherPassword); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.Login(ctx, "mia@example.com", testPassword, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password after SetPassword: err = %v", err)
	}
	if _, _, _, err := svc.Login(ctx, "mia@example.com", otherPassword, "192.0.2.1"); err != nil {
		t.Fatalf("new password after SetPassword: %v", err)
	}
}

func TestGetValidatesID(t *testing.T) {
	svc, _ := newService(t)
	for _, id := range []string{"", "u_", "../../etc", "c_aaaaaaaaaaaaaaaaaaaaaaaaaa", ids.New("u")} {
		if _, err := svc.Get(t.Context(), id); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("Get(%q): err = %v, want ErrNotFound", id, err)
		}
	}
}

func TestPasswordHashChecks(t *testing.T) {
	h := hashPassword(testPassword)
	if h == hashPassword(testPassword) {
		t.Fatal("hashing is not salted")
	}
	// This package's tests hash at the production cost (only tests that
	// start a node through internal/nodetest lower it), so the parameters
	// a real server uses are the ones checked here.
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || !strings.HasPrefix(dummyHash(), "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q / dummy %q: not argon2id at m=19456,t=2,p=1", h, dummyHash())
	}
	if ok, err := checkPassword(h, testPassword); err != nil || !ok {
		t.Fatalf("right password: %v, %v", ok, err)
	}
	if ok, err := checkPassword(h, otherPassword); err != nil || ok {
		t.Fatalf("wrong password: %v, %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", strings.Replace(h, "v=19", "v=16", 1)} {
		if ok, err := checkPassword(bad, testPassword); err == nil || ok {
			t.Fatalf("malformed hash %q: ok=%v err=%v", bad, ok, err)
		}
	}
}

// TestTestHashCostVerifies: a hash made at the test-only cost names its
// own parameters and verifies like a production one, and a production
// hash still verifies beside it (checkPassword reads the parameters from
// the string).
func TestTestHashCostVerifies(t *testing.T) {
	prod := hashPassword(testPassword)
	h := hashWith(&hashCost{memoryKiB: testArgonMemoryKiB, time: testArgonTime}, testPassword)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("test-cost hash %q", h)
	}
	for _, hash := range []string{h, prod} {
		if ok, err := checkPassword(hash, testPassword); err != nil || !ok {
			t.Fatalf("right password on %q: %v, %v", hash, ok, err)
		}
		if ok, err := checkPassword(hash, otherPassword); err != nil || ok {
			t.Fatalf("wrong password on %q: %v, %v", hash, ok, err)
		}
	}
}

// TestProductionHashCostIsTheDefault: nothing lowers the hash cost unless
// a test binary asks, and only test code can ask. This binary does not
// import internal/nodetest, so it hashes at the production parameters;
// the only non-test file that imports internal/hashcost besides this
// package is internal/nodetest, and no command of the module links
// internal/nodetest.
func TestProductionHashCostIsTheDefault(t *testing.T) {
	if hashcost.Lowered() {
		t.Fatal("the hash cost is lowered in a binary that did not ask")
	}
	if c := currentCost(); c != prodCost || c.memoryKiB != 19*1024 || c.time != 2 || argonThreads != 1 {
		t.Fatalf("default cost m=%d t=%d p=%d, want OWASP's m=19456 t=2 p=1", c.memoryKiB, c.time, argonThreads)
	}

	const hook = "github.com/parley-mediation/parley/internal/hashcost"
	importers := map[string]bool{}
	root := ".."
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(`"`+hook+`"`)) {
			rel, _ := filepath.Rel(root, path)
			importers[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"account/password.go": true, "internal/nodetest/nodetest.go": true}
	if fmt.Sprint(importers) != fmt.Sprint(want) {
		t.Fatalf("non-test files importing %s: %v, want %v", hook, importers, want)
	}
	if b, err := os.ReadFile("password.go"); err != nil || bytes.Contains(b, []byte("UseTestCost(")) {
		t.Fatalf("account/password.go calls hashcost.UseTestCost (read error %v)", err)
	}

	list := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}: {{join .Deps " "}}{{end}}`, "./...")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	mains := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		mains++
		name, deps, _ := strings.Cut(line, ": ")
		if slices.Contains(strings.Fields(deps), "github.com/parley-mediation/parley/internal/nodetest") {
			t.Errorf("command %s links internal/nodetest, which lowers the password hash cost", name)
		}
	}
	if mains == 0 {
		t.Fatal("go list found no command to check")
	}
}

// TestSessionSlidesUpToCap: use within the idle window keeps a session
// alive; it is written only once less than half the window is left; it ends
// at its absolute cap however much it is used, and after an idle window
// without use.
func TestSessionSlidesUpToCap(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	createMediator(t, svc, "slide@example.com")
	svc.SessionTTL = 10 * time.Hour
	svc.SessionMaxAge = 48 * time.Hour
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := base
	svc.SetClock(func() time.Time { return at })
	_, token, sess, err := svc.Login(ctx, "slide@example.com", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if !sess.Expires.Equal(base.Add(10*time.Hour)) || !sess.Cap.Equal(base.Add(48*time.Hour)) {
		t.Fatalf("new session ends %v, cap %v", sess.Expires, sess.Cap)
	}
	stored := func() Session {
		var s Session
		if _, err := svc.meta.Get(ctx, svc.sessionKey(token), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// With more than half the window left, nothing is written.
	at = base.Add(4 * time.Hour)
	if _, got, err := svc.Authenticate(ctx, token); err != nil || !got.Expires.Equal(sess.Expires) {
		t.Fatalf("at 4h: %v, expires %v", err, got.Expires)
	}
	if !stored().Expires.Equal(sess.Expires) {
		t.Fatal("session written with more than half its idle window left")
	}
	// Less than half left: the window starts again from now.
	at = base.Add(6 * time.Hour)
	if _, got, err := svc.Authenticate(ctx, token); err != nil || !got.Expires.Equal(at.Add(10*time.Hour)) {
		t.Fatalf("at 6h: %v, expires %v, want %v", err, got.Expires, at.Add(10*time.Hour))
	}
	if !stored().Expires.Equal(base.Add(16 * time.Hour)) {
		t.Fatalf("slid session stored with expiry %v", stored().Expires)
	}
	// Past the original idle end, the slid session still works.
	at = base.Add(15 * time.Hour)
	if _, _, err := svc.Authenticate(ctx, token); err != nil {
		t.Fatalf("at 15h, after sliding: %v", err)
	}
	// Keep using it every 6 hours: it never lasts past the cap.
	for at = base.Add(21 * time.Hour); at.Before(base.Add(48 * time.Hour)); at = at.Add(6 * time.Hour) {
		_, got, err := svc.Authenticate(ctx, token)
		if err != nil {
			t.Fatalf("at %v: %v", at.Sub(base), err)
		}
		if got.Expires.After(base.Add(48 * time.Hour)) {
			t.Fatalf("at %v: expires %v, past the cap", at.Sub(base), got.Expires)
		}
	}
	at = base.Add(48 * time.Hour)
	if _, _, err := svc.Authenticate(ctx, token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("at the cap: err = %v, want ErrUnauthenticated", err)
	}

	// A session left idle for a whole window ends.
	at = base
	_, idle, _, err := svc.Login(ctx, "slide@example.com", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	at = base.Add(10 * time.Hour)
	if _, _, err := svc.Authenticate(ctx, idle); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("idle for the window: err = %v, want ErrUnauthenticated", err)
	}
}

// TestSlideDoesNotRevive: a sign-out between reading a session and
// sliding it is not undone by the slide.
func TestSlideDoesNotRevive(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	createMediator(t, svc, "revive@example.com")
	_, token, sess, err := svc.Login(ctx, "revive@example.com", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	var s Session
	ver, err := svc.meta.Get(ctx, svc.sessionKey(token), &s)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Logout(ctx, token); err != nil {
		t.Fatal(err)
	}
	svc.slide(ctx, token, ver, s, sess.Expires.Add(-time.Minute))
	if _, _, err := svc.Authenticate(ctx, token); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("after sign-out and a late slide: err = %v, want ErrUnauthenticated", err)
	}
}
