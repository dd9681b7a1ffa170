package schedule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/mail"
)

// MailInvite queues an invitation link to the address the mediator gave
// with the invite. The message carries the link and when it expires (in
// the case's time zone and UTC, untilText), nothing else: not the case's title, not who else is in it. It reports
// whether the message goes to a mail server (false for the development
// outbox, which only shows it to the mediator). seat is the invitation's
// cases.IssuedInvite.Seat, kept as the message's Ref: the outbox asks
// again just before sending whether the address has become another
// side's (Current, cases.LinkAddressShared).
func (s *Service) MailInvite(ctx context.Context, caseID, seat, to, link string, expires time.Time) (bool, error) {
	if s.cfg.Outbox == nil || to == "" {
		return false, nil
	}
	h := sha256.Sum256([]byte(link))
	err := s.cfg.Outbox.Enqueue(ctx, mail.Message{
		ID: mailID("join", caseID, hex.EncodeToString(h[:8])), CaseID: caseID, Kind: mail.KindJoin, To: to, Ref: seat,
		Subject: "Your invitation to a mediation",
		Text: fmt.Sprintf("You are invited to take part in a mediation in Parley. Open this link to join (it works once, until %s):\n\n%s%s",
			s.untilText(ctx, caseID, expires), link, mailFooter),
	})
	if err != nil {
		return false, err
	}
	return !s.Development(), nil
}

// CancelInviteMail cancels the invitation's mail (seat: its
// cases.WithdrawnInvite.Seat) if it is still waiting in the outbox, for a
// withdrawn invitation. A message a sender has already claimed is left to
// it: it asks Current just before sending, which refuses a withdrawn
// invitation's mail (joinLinkCurrent).
func (s *Service) CancelInviteMail(ctx context.Context, caseID, seat string) error {
	if s.cfg.Outbox == nil || seat == "" {
		return nil
	}
	return s.cfg.Outbox.CancelRef(ctx, caseID, seat, func(m *mail.Message) bool { return m.Kind != mail.KindJoin })
}

// caseZone is the time zone of the case, for mail that states a time: a
// case has no zone of its own, so it is the zone its mediator scheduled
// its latest joint session in (the most recently scheduled one not
// cancelled that meets in the joint room), or "" while it has none, or
// its sessions cannot be read now. Only a joint session: every recipient
// of such a mail may see those (List), while a session in one side's
// caucus (or the mediators' room) alone is hidden from the other side,
// and its zone would tell them it exists and where. Before, the latest
// session of any room counted.
func (s *Service) caseZone(ctx context.Context, caseID string) string {
	sessions, err := s.list(ctx, caseID)
	if err != nil {
		return ""
	}
	var latest *Session
	for i := range sessions {
		x := &sessions[i]
		if x.Status == Cancelled || !slices.Contains(x.Rooms, caucus.JointName) {
			continue
		}
		if latest == nil || x.Created.After(latest.Created) {
			latest = x
		}
	}
	if latest == nil {
		return ""
	}
	return latest.TimeZone
}

// untilText states when a link sent by mail stops working, as a
// session's mail states its time (WhenText): in the case's time zone
// (its latest joint session's, caseZone) first, then in UTC ("Monday 2
// January 2006, 16:04 (Europe/Berlin; 15:04 UTC)", the UTC date too when
// it is another day); in UTC alone when the case has no zone or it is UTC.
func (s *Service) untilText(ctx context.Context, caseID string, expires time.Time) string {
	return untilIn(expires, s.caseZone(ctx, caseID))
}

func untilIn(expires time.Time, zone string) string {
	const layout = "Monday 2 January 2006, 15:04"
	u := expires.UTC()
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil || loc == time.UTC || zone == "UTC" {
		return u.Format(layout) + " UTC"
	}
	l := expires.In(loc)
	utc := u.Format("15:04")
	if l.Format("2006-01-02") != u.Format("2006-01-02") {
		utc = u.Format(layout)
	}
	return fmt.Sprintf("%s (%s; %s UTC)", l.Format(layout), zone, utc)
}
