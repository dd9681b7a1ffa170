package e2ee

// The first statement of a case (docs/protocol.md, "Membership
// statements").
//
// Every later statement is authorised by the one before it: only a
// mediator of the previous statement may sign the next. The first has no
// previous statement, so the only authority it can show is itself — a
// client pins it on first use. If it could name several mediators, a
// server that lists an account of its own as a mediator on the case
// record could have that account sign a first statement naming the real
// mediator too; the real mediator's device would then find the server's
// account already "sitting" and never ask a person to admit it, and it
// would read every caucus.
//
// So a first statement names exactly one mediator, the one who signed it.
// Honest clients sign the first statement alone, and co-mediators join
// by a later statement that a sitting mediator signs (an admission). A
// server that signs a first statement naming only its own account still
// gets the case's chain, but the real mediator is not in it: the real
// mediator's client sees that and says so (see docs/protocol.md).

// checkGenesis is the first-statement rule: first names one mediator,
// its signer.
func checkGenesis(first *Statement) error {
	for _, p := range first.People {
		if p.Role == RoleMediator && p.Account != first.SignerAccount {
			return errMembership("statement %d: first statement names mediator %s besides its signer %s: "+
				"a case's first statement names exactly one mediator, its signer; co-mediators are admitted by a later statement",
				first.Seq, p.Account, first.SignerAccount)
		}
	}
	return nil
}
