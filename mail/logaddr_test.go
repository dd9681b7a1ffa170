package mail

import (
	"bufio"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// refusingSMTP is a test fixture: an SMTP server on a loopback port that
// answers every command but refuses each recipient with 550, echoing the
// address in its reply as real servers do. It serves connections until
// the test ends, each for at most 20 commands and 10 seconds.
func refusingSMTP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveRefusing(c)
		}
	}()
	return ln.Addr().String()
}

func serveRefusing(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	reply := func(s string) { c.Write([]byte(s + "\r\n")) }
	reply("220 refuse.test ESMTP")
	for range 20 {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		switch {
		case verb == "EHLO":
			reply("250-refuse.test\r\n250 ENHANCEDSTATUSCODES")
		case strings.HasPrefix(strings.ToUpper(line), "RCPT TO:"):
			addr := strings.TrimSpace(line[len("RCPT TO:"):])
			reply("550 5.1.1 " + addr + ": Recipient address rejected: User unknown in virtual mailbox table (" + strings.ToUpper(addr) + ")")
		case verb == "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			reply("250 2.0.0 Ok")
		}
	}
}

// TestSendFailureLogNamesNoRecipient: a refused recipient's address,
// which the server's reply echoes and go-mail's error lists, does not
// reach the server log (where it would sit beside the case id); the
// reply code and enhanced status do. Before: the WARN line carried
// go-mail's error whole ("…: 550 5.1.1 <ada.okafor@…>: Recipient address
// rejected…, affected recipient(s): ada.okafor@…").
func TestSendFailureLogNamesNoRecipient(t *testing.T) {
	tr, err := NewSMTP(SMTPConfig{URL: "smtp://" + refusingSMTP(t) + "?starttls=off", From: "sessions@parley.test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	o := New(Config{Meta: dirMeta(t), Transport: tr, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	m := testMessage("refused", 1)
	m.To = "Ada.Okafor@example.test"
	if err := o.Enqueue(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := o.Get(t.Context(), "c-test", "refused-0001")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Failed || !strings.Contains(got.LastError, "refused") {
		t.Fatalf("record: %s %q, want failed as refused", got.State, got.LastError)
	}
	line := logs.String()
	if !strings.Contains(line, "outbox send failed") || !strings.Contains(line, "550") || !strings.Contains(line, "5.1.1") {
		t.Fatalf("the WARN line lacks the reply code or enhanced status: %s", line)
	}
	if low := strings.ToLower(line); strings.Contains(low, "ada.okafor") || strings.Contains(low, "example.test") {
		t.Fatalf("the server log names the recipient: %s", line)
	}
}

// withoutAddress takes the address out in any letter case.
func TestWithoutAddress(t *testing.T) {
	got := withoutAddress("550 <ADA@Example.test> rejected, affected recipient(s): ada@example.test", "ada@example.test")
	if want := "550 <<recipient>> rejected, affected recipient(s): <recipient>"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
