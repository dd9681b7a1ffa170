package policy

// ClassResidue is what no other class covers, found by retention's sweep:
// ciphertext and version records of no known document version (an upload
// abandoned part-way, a disposal's leftovers), sign-in sessions that
// expired or were signed out, invitations that expired unused, and the
// journals of disposals already certified. Its clock starts when the
// object became residue (trigger "created": an expiry, a sign-out, the
// certificate), and it is the only trigger it takes.
const ClassResidue = "residue"
