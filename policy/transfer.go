package policy

import (
	cedar "github.com/cedar-policy/cedar-go"
)

// RetentionTransferDocument: carry one document version in a transfer
// bundle (DecideTransferDocument). Not a document action of the vault's
// (no user ever asks it of a case): the retention job asks it of every
// document of a case it transfers, as the records clerk who chose the
// transfer.
const RetentionTransferDocument Action = "retention.transfer.document"

// DecideTransferDocument answers whether u may put document d in a case's
// transfer bundle for an archive or a court. The rule (retention.cedar)
// carries only what everyone in the case saw: joint documents that are
// not mediator notes. A caucus document, one shared with named people or
// with the mediators only, never leaves in a bundle: nothing records
// staff can choose gives one side's confidences to a third party.
func (e *Engine) DecideTransferDocument(u User, d Document) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, nil)
	uid := cedar.NewEntityUID("Document", "doc")
	entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
		"audience": cedar.String(d.Audience),
		"class":    cedar.String(d.Class),
		"users":    userSet(d.Users),
	})}
	return e.evaluate(entities, principal, RetentionTransferDocument, uid)
}
