package server

// RunsMailSender reports whether n started its outbox's sender loop.
func RunsMailSender(n *Node) bool { return n.mailDone != nil }
