// Package mailpit reads back, for tests, the mail that arrived at the test
// Mailpit (scripts/services.sh starts it; internal/testenv finds it).
package mailpit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/testenv"
)

// Client talks to one Mailpit's HTTP API.
type Client struct {
	Base string
	// SMTP is the server's SMTP address.
	SMTP string
	// sentFor, when set (Outbox), maps a Message-ID's local part to the
	// outbox id of the message sent with it.
	sentFor func() (map[string]string, error)
}

// Outbox returns a client whose WithPrefix and WaitFor take a prefix of
// outbox ids: a message's Message-ID is random and names nothing
// (mail.Message.MessageID), so the test's outbox says which message went
// out under which. ids is read at every look, so it sees messages queued
// meanwhile.
func (c *Client) Outbox(ids func() (map[string]string, error)) *Client {
	return &Client{Base: c.Base, SMTP: c.SMTP, sentFor: ids}
}

// FromEnv returns the test Mailpit (skipping or failing like testenv).
func FromEnv(t testing.TB) *Client {
	t.Helper()
	return &Client{Base: testenv.MailpitAPI(t), SMTP: testenv.SMTP(t)}
}

// Address is a mail address in Mailpit's answers.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Summary is one message in Mailpit's list.
type Summary struct {
	ID        string    `json:"ID"`
	MessageID string    `json:"MessageID"`
	From      Address   `json:"From"`
	To        []Address `json:"To"`
	Subject   string    `json:"Subject"`
}

// Attachment is one attached part.
type Attachment struct {
	PartID      string `json:"PartID"`
	FileName    string `json:"FileName"`
	ContentType string `json:"ContentType"`
}

// Message is one message in full.
type Message struct {
	Summary
	Text        string       `json:"Text"`
	Attachments []Attachment `json:"Attachments"`
}

func (c *Client) get(path string, v any) error {
	resp, err := http.Get(c.Base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("mailpit %s: %s: %s", path, resp.Status, b)
	}
	if b, ok := v.(*[]byte); ok {
		*b, err = io.ReadAll(resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// WithPrefix lists the messages whose Message-ID starts with prefix, or,
// for a client made by Outbox, whose outbox id does (each test uses its
// own prefix, so tests sharing one Mailpit do not see each other's mail).
func (c *Client) WithPrefix(prefix string) ([]Summary, error) {
	var out []Summary
	id := func(m Summary) string { return m.MessageID }
	if c.sentFor != nil {
		sent, err := c.sentFor()
		if err != nil {
			return nil, err
		}
		id = func(m Summary) string {
			local, _, _ := strings.Cut(m.MessageID, "@")
			return sent[local]
		}
	}
	for start := 0; ; start += 500 {
		var page struct {
			Messages []Summary `json:"messages"`
			Total    int       `json:"messages_count"`
		}
		if err := c.get(fmt.Sprintf("/api/v1/messages?start=%d&limit=500", start), &page); err != nil {
			return nil, err
		}
		for _, m := range page.Messages {
			if id := id(m); id != "" && strings.HasPrefix(id, prefix) {
				out = append(out, m)
			}
		}
		if len(page.Messages) < 500 {
			return out, nil
		}
	}
}

// WaitFor polls until at least n messages with the prefix arrived (or
// timeout) and returns them.
func (c *Client) WaitFor(t testing.TB, prefix string, n int, timeout time.Duration) []Summary {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := c.WithPrefix(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Get reads one message in full.
func (c *Client) Get(id string) (Message, error) {
	var m Message
	err := c.get("/api/v1/message/"+id, &m)
	return m, err
}

// Part reads one part (an attachment) of a message.
func (c *Client) Part(id, partID string) ([]byte, error) {
	var b []byte
	err := c.get("/api/v1/message/"+id+"/part/"+partID, &b)
	return b, err
}
