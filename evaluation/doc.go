// Package evaluation makes the anonymized program-evaluation dataset: one row
// per case with what a mediation program must report and improve on (case
// type, referral source, sides, sessions and hours, days per stage, time to
// resolution, outcome, feedback survey scores) and nothing that identifies
// anyone.
//
// How it keeps people out of the data:
//   - case ids become keyed HMAC tokens with a fresh key per export, so rows
//     are stable within one export and unlinkable across exports;
//   - no names, emails, phone numbers, addresses or exact dates: the opening
//     month is the only calendar value, and every other time is a day count;
//   - categorical fields are mapped onto fixed vocabularies (anything else
//     becomes "other"), so a free-typed value cannot smuggle a name out;
//   - survey comments are scrubbed of every roster name of their case and of
//     PII patterns, and dropped whenever the scrub is not confident; a name
//     is matched as a whole word in any script and any letter case (the
//     Turkish İ, ı and the Latin I, i as one letter: "İlker" is found in
//     "ilker", "Yıldız" in "YILDIZ"), after
//     both it and the comment lose their default-ignorable characters
//     (format characters such as zero-width spaces and joiners, soft
//     hyphens, direction marks; variation selectors; the combining
//     grapheme joiner and the other code points drawn as nothing), are put in
//     Unicode NFKC and have typographic apostrophes (’ ‘ ʼ) folded to '
//     ("zoë", "Zoe\u0308", "O’Brien", "Ri\u200bvera", "Ri\u034fvera",
//     "Ri\ufe0fvera", fullwidth "ａｄａ" and
//     "ﬁona" are all found; a fullwidth ＠ is an @), so a released comment
//     is in that form too; each roster string's skeleton (NFKD, combining
//     marks removed: "Zoe" of "Zoë") is a roster string too, and a comment
//     in whose skeleton a roster string is still found ("rivéra",
//     "r\u0336ivera" for "Rivera") or with a word mixing Latin, Cyrillic,
//     Greek, Armenian or Cherokee letters ("riv\u0435ra", a Cyrillic е) is
//     dropped — other confusables (a digit or symbol standing for a letter
//     that is not a number, a look-alike from another script for a whole
//     word) are not caught; a comment with an email spelled out ("jblake at
//     blakelaw dot com", "samlee[at]example[dot]org") is dropped; every part
//     of a person's name of two letters or more, and each half of a
//     hyphenated one or after an apostrophe, is a roster string; a
//     comment holding a capitalized word that does not start a sentence
//     is taken to name someone the roster does not know and is dropped
//     (quotes around a word do not hide it, and an initial or a short
//     abbreviation such as "Mr.", "Dr.", "vs." or "e.g." does not end a
//     sentence); a
//     comment with a digit or other number of any script (superscript,
//     circled…), or a letter of a script without
//     capitals (Arabic, Hebrew, Devanagari, Chinese, Japanese, Korean,
//     Thai…), is dropped; a row releases at most as many comments as the low end of
//     its survey-count band, so their number does not say the count;
//   - k-anonymity over every column someone could know of a case without
//     the export (QuasiIdentifiers: type, referral, opening period, sides,
//     roster size, sessions, hours, days per stage, outcome, number of
//     survey responses, whether the follow-up columns are released — records staff read most of them in case summaries
//     and the audit log): rows in groups smaller than k have those cells
//     generalized (days, sessions and hours, roster size and survey count
//     first; then month → quarter → year, outcome, any period, sides,
//     referral, type, then the follow-up columns), and what is still too small is suppressed. The
//     report says what was generalized and suppressed, and how many
//     comments the released rows wrote and how many their scrub dropped
//     (counted once comments are withheld beside a stub and capped: a
//     suppressed row's, or a withheld row's, are not counted — they would
//     say something of it — and comments past a row's cap are not kept);
//   - survey means and comments only for cases with at least
//     MinSurveyResponses responses, so no released mean is one or two
//     people's exact answers;
//   - survey means rounded to the nearest 0.5 (halves up, one decimal):
//     records staff know each case's number of responses, and a mean
//     printed as sum/n with two decimals gave n back (thirds, quarters…),
//     and with it the row's case inside its group; every 0.5 step is
//     reachable from any n, so a rounded mean does not say n;
//   - an export covers whole months (the HTTP route takes only the first
//     day of a month for from and to, to excluded and no later than the
//     first day of the month after tomorrow's, UTC: months not begun are
//     refused; the browser's "through" and the CLI's --to name the last
//     month included and send the first day of the month after it), as the
//     opening period is a month:
//     two exports a day apart would put the cases opened that day alone
//     in their difference, a lone case's comments word for word; k holds
//     within each export, not across exports of overlapping ranges;
//   - in a CSV file a cell that starts with = + - @, a tab or a carriage
//     return gets a leading ', so a spreadsheet does not run a comment
//     written as a formula ("=HYPERLINK(…)"); JSON lines are as they are;
//   - with an age recipient the file is encrypted (filippo.io/age) before
//     it leaves the server.
//
// Cases disposed of under the retention schedule are counted from their
// statistical stubs (cases.Stub, made by MakeStub before the case record
// goes): the same banded cells, without comments or follow-up counts, so
// an export after disposal still counts the case. A stub's means are
// rounded to the nearest 0.5 when exported, as a stored case's are (a
// stub made before that rule keeps two decimals). Records staff know
// which cases were disposed of, and a stub row is the one row of its
// group with means and no comments, so comments are withheld from every
// row of a released group that includes a disposed case. A case still stored is
// counted from its record only, though its stub is stored too (a disposal
// paused at a storage hold, or under way).
//
// It is not vault code: it reads case records and survey answers (package
// cases), never the vault. The HTTP route is POST /api/v1/exports (package
// web); the CLI verb is `parley export`.
//
// What evaluation must never do: read documents or messages, write anything but
// the export it is asked for, or emit a row whose quasi-identifier group is
// smaller than k.
package evaluation
