// Package objstore is Parley's seam to its system of record: an object store.
//
// Everything durable in Parley — accounts, cases, the audit log, encrypted
// documents and message history — lives in a Store. Two implementations sit
// behind the one interface and pass the same contract suite (storetest):
//
//   - S3 (s3.go): MinIO or any S3 endpoint, through minio-go. The bucket is
//     made with object locking on, so legal holds are enforced by the storage
//     itself and not only by Parley.
//   - Dir (dir.go): a local directory for the embedded mode. Writes go to a
//     temporary file and are renamed into place, so a reader never sees a
//     half-written object; conditional writes are serialised per key inside
//     the process.
//
// The store offers what the rest of Parley needs and nothing more: get, put,
// delete and list, conditional writes (create-only with If-None-Match, update
// by ETag with If-Match) for optimistic concurrency, versions, and legal hold.
// records.go layers small JSON records with read-modify-write retry on top.
//
// What objstore must never do: interpret the bytes it stores, log object
// contents, or decide who may read them. Encryption happens before bytes
// reach a Store; authorization happens in package policy.
package objstore
