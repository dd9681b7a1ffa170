package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig is where and how to send.
type SMTPConfig struct {
	// URL is smtp://[user:pass@]host[:port] (STARTTLS required when the
	// server offers it, port 587 by default; ?starttls=off for a loopback
	// test server with none) or smtps://[user:pass@]host[:port] (TLS from
	// the first byte, port 465 by default).
	URL string
	// From is the sender address (and the invitations' ORGANIZER).
	From string
	// Timeout bounds one delivery (default 30 s); keep it below the
	// outbox's Lease.
	Timeout time.Duration
}

// SMTP is a Transport through one SMTP server, with go-mail.
type SMTP struct {
	host string
	opts []gomail.Option
	from string
	// domain is the right-hand side of Message-IDs (messageIDDomain).
	domain string
}

// NewSMTP checks the configuration and returns the transport. Nothing is
// dialled until the first message.
func NewSMTP(c SMTPConfig) (*SMTP, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return nil, errors.New("--smtp-url: want smtp://[user:pass@]host[:port] or smtps://…")
	}
	if err := CheckAddress("--mail-from", c.From); err != nil {
		return nil, fmt.Errorf("--mail-from: %w", err)
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	host := u.Hostname()
	opts := []gomail.Option{gomail.WithTimeout(c.Timeout), gomail.WithoutNoop()}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
		switch u.Query().Get("starttls") {
		case "", "required":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		case "opportunistic":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		case "off":
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return nil, errors.New("--smtp-url: starttls=off is allowed only for a server on this machine (loopback)")
			}
			opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		default:
			return nil, errors.New("--smtp-url: starttls is required, opportunistic or off")
		}
	case "smtps":
		if port == "" {
			port = "465"
		}
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, errors.New("--smtp-url: the scheme must be smtp (STARTTLS) or smtps (TLS)")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return nil, errors.New("--smtp-url: bad port")
	}
	opts = append(opts, gomail.WithPort(p))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &SMTP{host: host, opts: opts, from: c.From, domain: messageIDDomain(c.From)}, nil
}

// From is the sender address.
func (s *SMTP) From() string { return s.from }

// Send delivers one message. Its Message-ID is the message's random
// MessageID at the sender's domain, never the outbox id (which names the
// case, the session or the account): the same for every attempt, so a
// receiving side can see that two copies are one message.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("%w: sender: %v", ErrRefused, err)
	}
	if err := msg.To(m.To); err != nil {
		// go-mail's error quotes the address: it stays out of the log.
		return fmt.Errorf("%w: recipient: go-mail did not accept the address", ErrRefused)
	}
	msg.Subject(m.Subject)
	local := m.MessageID
	if local == "" {
		local = newMessageID() // queued before Message-IDs were random
	}
	msg.SetMessageIDWithValue(local + "@" + s.domain)
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if a := m.Attachment; a != nil {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return fmt.Errorf("%w: attachment: %v", ErrRefused, err)
		}
	}
	client, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// Nothing was handed over: safe to try again.
		return fmt.Errorf("%w: %w: %v", ErrNotDelivered, ErrUnreachable, err)
	}
	err = client.SendWithSMTPClient(conn, msg)
	client.CloseWithSMTPClient(conn)
	if err == nil {
		return nil
	}
	return classify(err)
}

// classify tells a certain non-delivery (the server answered no before
// the end of the data) from an ambiguous one (the connection broke while
// the data was being closed: the server may have accepted it). What it
// returns reads as an smtpFailure: go-mail's own text is dropped, since it
// carries the server's reply (which echoes the recipient's address) and
// ends with the affected recipients.
func classify(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return &smtpFailure{step: "sending"}
	}
	f := &smtpFailure{step: se.Reason.String(), code: se.ErrorCode(), enhanced: se.EnhancedStatusCode()}
	switch se.Reason {
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		return fmt.Errorf("%w: %w", ErrRefused, f)
	case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrConnCheck, gomail.ErrSMTPReset, gomail.ErrWriteContent:
		if se.ErrorCode() >= 500 {
			return fmt.Errorf("%w: %w", ErrRefused, f)
		}
		return fmt.Errorf("%w: %w", ErrNotDelivered, f)
	case gomail.ErrSMTPDataClose:
		// A reply code means the server answered (and refused); no code
		// means the connection failed and it may have taken the message.
		switch code := se.ErrorCode(); {
		case code >= 500:
			return fmt.Errorf("%w: %w", ErrRefused, f)
		case code >= 400:
			return fmt.Errorf("%w: %w", ErrNotDelivered, f)
		}
	}
	return f
}

// smtpFailure is a failed SMTP exchange as the server log sees it: the
// step that failed, the server's reply code and enhanced status code, and
// nothing that names the recipient (never the reply's text).
type smtpFailure struct {
	step     string // go-mail's reason: "sending SMTP RCPT TO command", …
	code     int    // the reply code; 0: no reply (the connection failed)
	enhanced string // the enhanced status code (RFC 3463), when given
}

func (f *smtpFailure) Error() string {
	s := "smtp: " + f.step
	switch {
	case f.code == 0:
		return s + ": no reply code (the connection failed, or go-mail refused before asking)"
	case f.enhanced != "":
		return fmt.Sprintf("%s: reply %d %s", s, f.code, f.enhanced)
	}
	return fmt.Sprintf("%s: reply %d", s, f.code)
}

// messageIDDomain is the right-hand side of the Message-IDs sent from
// address from: its domain, or "parley" when it has none usable.
func messageIDDomain(from string) string {
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return "parley"
	}
	i := strings.LastIndexByte(a.Address, '@')
	d := a.Address[i+1:]
	if i < 0 || d == "" || strings.ContainsAny(d, `<>[]"\ `+"\t\r\n") {
		return "parley"
	}
	return d
}
