package api

// Body is what a handler may encode as a JSON answer: the types of this
// package and nothing else. Its method is unexported, so only types
// declared here satisfy it; a server's stored record (an account with its
// password hash, a document record with its wrapped keys) cannot be passed
// where a Body is wanted, and the compiler refuses a handler that tries.
type Body interface{ wire() }

// List is a JSON array of wire values (a list answer).
type List[T Body] []T

func (List[T]) wire() {}

// Status is the body of /healthz and /readyz.
type Status struct {
	Status string `json:"status"`
}

func (Status) wire() {}
