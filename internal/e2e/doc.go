// Package e2e is the fault suite (`make test-faults`, and the last step of
// `make test`). It runs whole `parley serve` processes — two nodes on one
// fresh MinIO bucket and one Redis, behind a small round-robin load
// balancer — on a MinIO and a Redis of its own (main_test.go), and breaks
// things on purpose:
//
//   - kill -9 a node mid-conversation (scenario_test.go);
//   - FLUSHALL and restart Redis mid-conversation (scenario_test.go);
//   - a WebSocket client that stops reading: close 4008, then a full
//     recovery on resume (slow_test.go);
//   - MinIO stopped with SIGSTOP, and killed and restarted on the same port
//     and data directory, for 10 s during document uploads, downloads and
//     room messages through the HTTP and WebSocket APIs (vault_test.go);
//   - kill -9 a retention apply (`parley retention apply`, and every
//     other time the node doing the work) at random moments drawn from a
//     printed seed (PARLEY_FAULTS_SEED replays it), rerunning it each
//     time, then checking convergence: one certificate that verifies, no
//     stored version of a disposed record, the held document intact, the
//     audit log verifying (retention_test.go);
//   - and, not a fault but cross-process: `parley admin user
//     revoke-sessions` closing an account's chats on both nodes through
//     Redis (revoke_test.go).
//
// Each scenario records one row of the table (suite.row) — what it sent,
// what was acknowledged, what arrived, what was lost — and fails on any
// acknowledged message or document lost, duplicated or reordered. After the
// last scenario TestMain prints the table and scans MinIO's data
// directory, a Redis RDB dump and every node's log for the plaintext
// canaries the scenarios registered (suite.canary), with an unencrypted
// control (suite.control) that must be found.
//
// Adding a scenario: newCluster(t, 2, extra serve flags…) gives two nodes
// and c.lb.URL; startConversation gives a case with a mediator and a party
// per side, each with a chat; c.cli runs any `parley` verb against the same
// bucket, and c.as / c.startAs one as whoever signed in under a
// PARLEY_CONFIG_DIR (the API verbs); c.s3 is the bucket, for
// objstore.OpenS3. c.kill9 (c.start and c.lb.add bring a replacement),
// suite.pauseMinIO/resumeMinIO, suite.killMinIO/startMinIO and
// suite.restartRedis are the faults. Register plaintexts with
// suite.canary, record the result with suite.row, and keep every loop
// bounded.
package e2e
