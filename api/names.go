package api

import "strings"

// PersonWords is the one way people of a case are named for people, by
// the server's refusals, the CLI and (in TypeScript, web/client/src/names.ts)
// the browser: the person's name, then in brackets what they are in the
// case in plain words —
//
//	"Ada Okafor (Tenant)"               a party: their side's label alone
//	"Jordan Blake (Tenant's lawyer)"    a lawyer (counsel) of that side
//	"Sam Lee (observer)"
//	"Morgan Reyes (mediator)"
//
// sideLabel is the side's label ("Tenant"), never its id ("A"); "" when
// the side is unknown, which gives "(party)" or "(lawyer)". role is a
// ParticipantRole, "mediator", or "lawyer" as a signed agreement writes
// counsel. Never "counsel", never a side's id.
func PersonWords(name string, role ParticipantRole, sideLabel string) string {
	return name + " (" + RoleWords(role, sideLabel) + ")"
}

// RoleWords is the bracketed part of PersonWords: "Tenant", "Tenant's
// lawyer", "observer", "mediator".
func RoleWords(role ParticipantRole, sideLabel string) string {
	switch role {
	case RoleObserver:
		return "observer"
	case "mediator":
		return "mediator"
	case RoleCounsel, "lawyer":
		if sideLabel == "" {
			return "lawyer"
		}
		return Possessive(sideLabel) + " lawyer"
	}
	if sideLabel == "" {
		return "party"
	}
	return sideLabel
}

// Possessive is label's possessive in English: "Tenant's", "Parent A's",
// and "Employees'" for a label ending in s.
func Possessive(label string) string {
	if strings.HasSuffix(label, "s") || strings.HasSuffix(label, "S") {
		return label + "'"
	}
	return label + "'s"
}
