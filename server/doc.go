// Package server assembles one Parley node from its configuration: it opens
// the object store (a local directory in embedded mode, S3/MinIO in scale
// mode), loads the master key and the keys it wraps, opens the audit log,
// wires the services and the HTTP API, and runs the HTTP server until told
// to stop.
//
// Both modes run the same code below this package; only the seams differ
// (objstore.Dir or objstore.S3; in-process or Redis rate limiter). That is
// what lets `make run` work with nothing installed and N nodes share one
// MinIO and one Redis with no sticky sessions.
//
// What server must never do: business logic. If a rule about cases or
// access appears here, it belongs in cases or policy.
package server
