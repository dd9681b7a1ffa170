package web

import (
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
	"github.com/parley-mediation/parley/vault"
)

// The API's answers are package api's types (writeJSON takes nothing
// else); these make them from the services' records.

func listOf[T any, B api.Body](in []T, view func(T) B) api.List[B] {
	out := make(api.List[B], 0, len(in))
	for _, v := range in {
		out = append(out, view(v))
	}
	return out
}

func documentView(d vault.Document) api.Document {
	out := api.Document{ID: d.ID, Case: d.Case, Name: d.Name, MediaType: d.MediaType, Class: string(d.Class),
		Audience: d.Audience.String(), Version: d.Version, Size: d.Size, SHA256: d.SHA256, Uploader: d.Uploader,
		Created: d.Created, Updated: d.Updated, Held: d.Held, CanDownload: d.CanDownload}
	out.Versions = d.Versions
	out.E2EE = d.E2EE
	out.Erased, out.ErasedAt = d.Erased, d.ErasedAt
	return out
}

func personViews(in []vault.Person) []api.Person {
	out := make([]api.Person, 0, len(in))
	for _, p := range in {
		out = append(out, api.Person(p))
	}
	return out
}

func shareView(s vault.ShareResult) api.ShareResult {
	return api.ShareResult{Document: documentView(s.Document), From: s.From.String(), To: s.To.String(),
		Gaining: personViews(s.Gaining), Losing: personViews(s.Losing), DryRun: s.DryRun, Changed: s.Changed,
		NeedsApproval: s.NeedsApproval, ApprovalSide: s.ApprovalSide}
}

func shareRequestView(s vault.ShareApproval) api.DocShareRequest {
	return api.DocShareRequest{ID: s.ID, Doc: s.Doc, Version: s.Version, From: s.From.String(), Side: s.Side, To: s.To.String(),
		RequestedBy: s.RequestedBy, Requested: s.Requested, Expires: s.Expires, Status: api.DocShareStatus(s.Status),
		DecidedBy: s.DecidedBy, Decided: s.Decided, DecidedDevice: s.DecidedDevice, Gaining: personViews(s.Gaining), Shows: append([]api.VersionInfo{}, s.Shows...)}
}

func scheduleView(s policy.Schedule) api.Schedule {
	return api.Schedule{Version: s.Version, Rules: s.Rules}
}

func storedScheduleView(s retention.StoredSchedule) api.StoredSchedule {
	return api.StoredSchedule{Schedule: scheduleView(s.Schedule), By: s.By, At: s.At}
}

func planView(p retention.Plan) api.Plan {
	out := api.Plan{ID: p.ID, AsOf: p.AsOf, Created: p.Created, Planner: p.Planner, Schedule: scheduleView(p.Schedule),
		State: p.State, Pages: p.Pages, Records: p.Records, Held: p.Held, Bytes: p.Bytes, Cases: p.Cases, Residue: p.Residue,
		Approved: p.Approved, Started: p.Started, CaseKeysDone: p.CaseKeysDone, Completed: p.Completed, LinkFrom: p.LinkFrom,
		Certificate: p.Certificate}
	return out
}

func itemView(it retention.Item) api.Item {
	return api.Item{Case: it.Case, Reference: it.Reference, Doc: it.Doc, Version: it.Version, Class: it.Class, Trigger: it.Trigger,
		TriggerAt: it.TriggerAt, DueAt: it.DueAt, Size: it.Size, Commit: it.Commit, Held: it.Held, Paused: it.Paused, Opened: it.Opened}
}

func progressView(p retention.Progress) api.Progress {
	out := api.Progress{Plan: planView(p.Plan), PagesDone: p.PagesDone, Page: p.Page, Step: p.Step, Done: p.Done}
	for _, it := range p.Items {
		out.Items = append(out.Items, itemView(it))
	}
	out.Outcomes = p.Outcomes
	return out
}
