package api

// UploadOptions answers GET /api/v1/cases/{caseID}/documents/upload-options:
// for each audience a new document of the case could have, whether the
// caller may upload to it and with which record classes, each decided by
// policy (doc.upload) exactly as an upload would be. A browser offers only
// the allowed audiences and says in Why why the others are missing.
type UploadOptions struct {
	Audiences []UploadAudience `json:"audiences"`
	// MaxSize is the limit on one document, in bytes.
	MaxSize int64 `json:"maxSize"`
}

func (UploadOptions) wire() {}

// UploadAudience is one audience of UploadOptions.
type UploadAudience struct {
	Audience string `json:"audience"` // joint, caucus:<side> or mediators
	Allowed  bool   `json:"allowed"`
	// Classes the caller may upload with this audience (empty when not
	// allowed).
	Classes []string `json:"classes"`
	// Why, in plain words, when not allowed.
	Why string `json:"why,omitempty"`
}

// InvitedPerson is someone invited to the case who has not joined yet, as a
// share's dry run names them: they will be able to open the document once
// they join (ShareResult.Invited).
type InvitedPerson struct {
	Name string          `json:"name"`
	Role ParticipantRole `json:"role"`
	Side string          `json:"side,omitempty"`
}
