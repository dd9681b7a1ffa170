// Package e2e runs whole `parley serve` processes — several nodes on one
// MinIO bucket and one Redis, behind a small round-robin load balancer — and
// breaks things on purpose: kill -9 a node mid-conversation, flush and
// restart Redis. Each scenario counts what was sent, acknowledged and
// received, and fails on any acknowledged message lost, duplicated or
// reordered.
package e2e
