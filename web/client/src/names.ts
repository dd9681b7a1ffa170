// The one way people of a case are named, as the server and the CLI name
// them (api.PersonWords in Go): the person's name, then in brackets what
// they are in the case in plain words —
//
//   "Ada Okafor (Tenant)"             a party: their side's label alone
//   "Jordan Blake (Tenant's lawyer)"  a lawyer (counsel) of that side
//   "Sam Lee (observer)"
//   "Morgan Reyes (mediator)"
//
// and "You (Tenant)" where the viewer is named on their own screen. Never
// "counsel", never a side's id ("A").

/** label's possessive: "Tenant's", "Parent A's", "Employees'". */
export function possessive(label: string): string {
  return /s$/i.test(label) ? label + "'" : label + "'s";
}

/**
 * The bracketed part of a person's name: "Tenant", "Tenant's lawyer",
 * "observer", "mediator". sideLabel is the side's label (never its id),
 * "" when unknown ("party", "lawyer"). role is the server's role, or
 * "lawyer" as a signed agreement writes counsel.
 */
export function roleName(role: string, sideLabel = ""): string {
  if (role === "observer" || role === "mediator") return role;
  if (role === "counsel" || role === "lawyer") return sideLabel ? `${possessive(sideLabel)} lawyer` : "lawyer";
  return sideLabel || "party";
}

/** A person as everyone reads them: "Ada Okafor (Tenant)", "Jordan Blake (Tenant's lawyer)". */
export function personName(name: string, role: string, sideLabel = ""): string {
  return `${name} (${roleName(role, sideLabel)})`;
}
