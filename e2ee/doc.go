// Package e2ee is Parley's end-to-end encryption: device keys, signed
// membership statements, sender-key chains, and the binary formats that
// carry them — pure cryptography and encoding, no I/O. docs/protocol.md is
// the specification; testdata/vectors.json pins it for other clients.
//
// # What it owns
//
//   - Device keys ([DeviceKeys]): Ed25519 for signatures, an HPKE key for
//     key delivery (X-Wing by default, DHKEM(X25519) as the fallback), and
//     the signed public [DeviceRecord] the key directory logs.
//   - Membership statements ([Statement], [Chain]): a mediator's device
//     signs who is in each room; clients verify the chain and the caucus
//     rule before they give a room's keys to anyone. A room a mediator
//     opens is sealed ([RoomEntry], sealed.go): the statement holds only a
//     commitment to who is in it, and its members' chains add the entry.
//   - Sender keys ([Session], [SenderChain], [ReceiverChain]): each device
//     has one chain per room and epoch, HPKE-sealed to every member device
//     in a key distribution posted in the room; message keys ratchet
//     forward with HKDF and are forgotten after use; every message is
//     AES-256-GCM encrypted, Ed25519 signed, and bound to case, room,
//     epoch, statement, sending device, chain and counter.
//   - Safety numbers ([SafetyNumber]) from two people's device key sets.
//   - End-to-end encrypted documents: the vault's streaming format
//     (stream.go, shared with the server's envelope layer) and document key
//     wraps ([DocKeyWrap], dockey.go) — a fresh content key per version,
//     HPKE-sealed to the audience's devices after the signed-membership
//     check, as room keys are.
//
// Only standard primitives are composed: crypto/hpke, crypto/ed25519,
// crypto/hkdf, crypto/aes + crypto/cipher (GCM), crypto/sha256 and
// crypto/sha512.
//
// # What it must never do
//
// Perform I/O, log, or hand key material to anything but its caller; keep a
// message key after the message is opened; accept a payload whose sender,
// place or membership it has not checked; or distribute a room's keys to a
// membership no mediator signed.
package e2ee
