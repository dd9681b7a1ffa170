package policy

import (
	cedar "github.com/cedar-policy/cedar-go"
)

// AccountEntry is one account as policy sees it when deciding whether an
// account list may hold it: its id and its role.
type AccountEntry struct {
	ID   string
	Role Role
}

// DecideAccount answers whether u may do a (AccountList) to the account t:
// an administrator's account list holds t only if this allows it. A
// participant's account is never in it (base.cedar,
// "account-list-holds-no-participants").
func (e *Engine) DecideAccount(u User, a Action, t AccountEntry) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, nil)
	uid := cedar.NewEntityUID("Account", cedar.String(t.ID))
	entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{
		"role": cedar.String(t.Role),
	})}
	return e.evaluate(entities, principal, a, uid)
}
