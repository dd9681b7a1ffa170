package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
)

func init() {
	register("doc put", "doc put <file> --case C (--audience joint|caucus:<side>|mediators|user:<id>[,<id>] --class agreement|evidence|mediator-notes|correspondence|admin [--e2ee] | --doc D) [--name N] [--type MEDIA-TYPE] [--json]", docPut)
	register("doc get", "doc get <doc> --case C [--version N] [-o FILE|-] [--force] [--json]", docGet)
	register("doc ls", "doc ls --case C [--json]", docList)
	register("doc versions", "doc versions <doc> --case C [--json]", docVersions)
	register("doc share", "doc share <doc> --case C --audience joint|caucus:<side>|mediators|user:<id>[,<id>] [--yes] [--json]", docShare)
	register("doc ask", "doc ask <doc> --case C --audience joint|caucus:<side>|user:<id>[,<id>] [--json]  (ask the side whose party or lawyer added it to allow the share; mediators)", docAsk)
	register("doc requests", "doc requests --case C [--json]  (requests to share a side's documents, and their answers)", docRequests)
	register("doc answer", "doc answer <doc> <request> --case C --allow|--decline [--yes] [--json]  (a party or lawyer of the document's side)", docAnswer)
	register("doc keys", "doc keys --case C  (give the document keys this device holds to new devices and members of each audience)", docKeys)
	register("doc upgrade", "doc upgrade [<doc>…] --case C  (re-encrypt server-encrypted documents end to end on this device; mediators)", docUpgrade)
	register("doc hold", "doc hold <doc> --case C --reason TEXT --authority TEXT | --release --reason TEXT [--json]", docHold)
}

// stderrIsTerminal: progress bars and questions go to a person only.
func stderrIsTerminal() bool {
	st, err := os.Stderr.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func progress(size int64, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetVisibility(stderrIsTerminal()),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000), // 100 ms
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
	)
}

func docPut(ctx context.Context, args []string) error {
	fs := newFlags("doc put")
	caseID := fs.String("case", "", "case id")
	audience := fs.String("audience", "", "who the document is for: joint, caucus:<side>, mediators or user:<account>[,<account>]")
	class := fs.String("class", "", "record class: agreement, evidence, mediator-notes, correspondence or admin")
	docID := fs.String("doc", "", "add a new version to this document instead of a new document")
	name := fs.String("name", "", "the document's name (default: the file's name)")
	mediaType := fs.String("type", "", "media type (default: from the file's extension)")
	endToEnd := fs.Bool("e2ee", false, "encrypt the document on this device for its audience's devices (the server cannot read it)")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a file"); err != nil {
		return err
	}
	if *caseID == "" {
		return usagef("--case is required")
	}
	if *docID == "" && (*audience == "" || *class == "") {
		return usagef("--audience and --class are required for a new document (or --doc to add a version)")
	}
	if *endToEnd && *docID != "" {
		return usagef("--e2ee makes a new document; new versions of end-to-end encrypted documents are not supported yet")
	}
	if *docID != "" && (*audience != "" || *class != "") {
		return usagef("a new version keeps its document's audience and class; change the audience with `parley doc share`")
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if *name == "" {
		*name = filepath.Base(path)
	}
	if *mediaType == "" {
		*mediaType = mime.TypeByExtension(filepath.Ext(path))
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	if *docID != "" && !*endToEnd {
		// Asked first, so no plaintext leaves this machine for a document
		// whose versions are encrypted on devices (the server would refuse
		// it only once received).
		cur, err := c.Document(ctx, *caseID, *docID)
		if err != nil {
			return err
		}
		if cur.E2EE || slices.ContainsFunc(cur.Versions, func(v api.VersionInfo) bool { return v.E2EE }) {
			return fmt.Errorf("%s is end-to-end encrypted: a new version would reach the server readable, so nothing was sent (new end-to-end encrypted versions are not supported yet)", *docID)
		}
	}
	bar := progress(st.Size(), "uploading "+*name)
	body := progressbar.NewReader(f, bar)
	u := client.Upload{Name: *name, MediaType: *mediaType, Audience: *audience, Class: *class, Body: &body, Size: st.Size()}
	var d api.Document
	if *endToEnd {
		var x *client.E2EE
		if _, x, err = e2eeClient(); err == nil {
			d, err = x.UploadDocumentE2EE(ctx, *caseID, u)
		}
	} else if *docID == "" {
		d, err = c.UploadDocument(ctx, *caseID, u)
	} else {
		d, err = c.UploadVersion(ctx, *caseID, *docID, u)
	}
	bar.Exit()
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(d)
	}
	if *endToEnd {
		fmt.Printf("Stored %s as %s version %d (%s, %s, for %s), encrypted on this device; ciphertext sha256 %s\n", d.Name, d.ID, d.Version, humanBytes(d.Size), d.Class, d.Audience, d.SHA256)
		return nil
	}
	fmt.Printf("Stored %s as %s version %d (%s, %s, for %s), sha256 %s\n", d.Name, d.ID, d.Version, humanBytes(d.Size), d.Class, d.Audience, d.SHA256)
	return nil
}

// docGet downloads into a temporary file beside the output and renames it
// into place only once the whole document has been checked against its
// SHA-256; on any failure the partial file is removed.
func docGet(ctx context.Context, args []string) (err error) {
	fs := newFlags("doc get")
	caseID := fs.String("case", "", "case id")
	version := fs.Int("version", 0, "version to download (default: the latest)")
	out := fs.String("o", "", "output file, or - for standard output (default: the document's name, in this directory)")
	force := fs.Bool("force", false, "overwrite an existing output file")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 1, "a document id")
	if err != nil {
		return err
	}
	// With a device, through it: an end-to-end encrypted version is
	// decrypted here, and a server-encrypted answer for one is refused.
	var dl *client.Download
	if _, x, xerr := e2eeClient(); xerr == nil {
		dl, err = x.DownloadDocumentE2EE(ctx, *caseID, fs.Arg(0), *version)
	} else if dl, err = c.DownloadDocument(ctx, *caseID, fs.Arg(0), *version); err == nil && dl.E2EE {
		dl.Body.Close()
		err = xerr
	}
	if err != nil {
		return err
	}
	defer dl.Body.Close()
	target := *out
	if target == "" {
		target = safeFileName(dl.Name)
	}
	var w io.Writer
	var tmp *os.File
	if target == "-" {
		w = os.Stdout
	} else {
		if _, err := os.Lstat(target); err == nil && !*force {
			return fmt.Errorf("%s exists; use --force to overwrite it or -o to choose another name", target)
		}
		tmp, err = os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".partial-*")
		if err != nil {
			return err
		}
		defer func() {
			if err != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	bar := progress(dl.Size, "downloading "+dl.Name)
	_, err = io.Copy(io.MultiWriter(w, bar), dl.Body)
	bar.Exit()
	if err != nil {
		if errors.Is(err, client.ErrIntegrity) && tmp != nil {
			return fmt.Errorf("%w; the partial file was removed", err)
		}
		return err
	}
	if tmp != nil {
		if err = tmp.Sync(); err != nil {
			return err
		}
		if err = tmp.Close(); err != nil {
			return err
		}
		if err = os.Rename(tmp.Name(), target); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(map[string]any{"file": target, "name": dl.Name, "version": dl.Version, "size": dl.Size, "sha256": fmt.Sprintf("%x", dl.SHA256),
			"e2ee": dl.E2EE, "ciphertextSha256": fmt.Sprintf("%x", dl.CipherSHA256)})
	}
	if target != "-" && dl.E2EE {
		named := "name as its uploader's device signed it"
		if !dl.NameVerified {
			named = "name NOT verified: encrypted before Parley signed documents' names"
		}
		fmt.Fprintf(os.Stderr, "Saved %s version %d to %s (%s, decrypted on this device: every segment authenticated, ciphertext sha256 %x verified; %s)\n", dl.Name, dl.Version, target, humanBytes(dl.Size), dl.CipherSHA256, named)
	} else if target != "-" {
		fmt.Fprintf(os.Stderr, "Saved %s version %d to %s (%s, sha256 %x verified)\n", dl.Name, dl.Version, target, humanBytes(dl.Size), dl.SHA256)
	}
	return nil
}

// safeFileName makes a document's name usable as a file name here: no
// directories, nothing hidden, nothing empty.
func safeFileName(name string) string {
	n := strings.Map(func(r rune) rune {
		if r < 0x20 || r == '/' || r == '\\' || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	n = strings.TrimLeft(n, ".")
	if n == "" {
		n = "document"
	}
	return n
}

func docList(ctx context.Context, args []string) error {
	fs := newFlags("doc ls")
	caseID := fs.String("case", "", "case id")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 0, "no arguments")
	if err != nil {
		return err
	}
	list, err := c.Documents(ctx, *caseID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(list)
	}
	if len(list) == 0 {
		fmt.Println("No documents you may see.")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOCUMENT\tVERSION\tSIZE\tCLASS\tAUDIENCE\tUPDATED\tHELD\tNAME")
	for _, d := range list {
		name := d.Name
		if !d.CanDownload {
			name = "(content not yours to read)"
		}
		held := ""
		if d.Held {
			held = "held"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Version, humanBytes(d.Size), d.Class, d.Audience,
			d.Updated.Local().Format("2006-01-02 15:04"), held, name)
	}
	return tw.Flush()
}

func docVersions(ctx context.Context, args []string) error {
	fs := newFlags("doc versions")
	caseID := fs.String("case", "", "case id")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 1, "a document id")
	if err != nil {
		return err
	}
	d, err := c.Document(ctx, *caseID, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(d.Versions)
	}
	fmt.Printf("%s — %s, for %s\n", d.ID, d.Class, d.Audience)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSIZE\tUPLOADED\tBY\tSHA-256\tNAME")
	for _, v := range d.Versions {
		name, sum := v.Name, v.SHA256
		if v.Erased {
			name, sum = "(erased)", ""
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", v.Version, humanBytes(v.Size), v.Created.Local().Format("2006-01-02 15:04"), v.Uploader, sum, name)
	}
	return tw.Flush()
}

// docShare shows who would newly gain (and lose) access, asks, and only
// then shares.
func docShare(ctx context.Context, args []string) error {
	fs := newFlags("doc share")
	caseID := fs.String("case", "", "case id")
	audience := fs.String("audience", "", "the new audience: joint, caucus:<side>, mediators or user:<account>[,<account>]")
	yes := fs.Bool("yes", false, "share without asking for confirmation")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a document id"); err != nil {
		return err
	}
	if *caseID == "" || *audience == "" {
		return usagef("--case and --audience are required")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	docID := fs.Arg(0)
	preview, err := c.ShareDocument(ctx, *caseID, docID, *audience, true)
	if err != nil {
		return err
	}
	if !preview.Changed {
		fmt.Fprintf(os.Stderr, "%s is already shared with %s.\n", docID, preview.To)
		if *asJSON {
			return printJSON(preview)
		}
		return nil
	}
	labels := caseSideLabels(ctx, c, *caseID)
	describeShare(os.Stderr, preview, true, labels)
	if preview.NeedsApproval {
		return fmt.Errorf("not shared: a party or lawyer of side %s added %s to their caucus, and none of them has allowed this share; ask them first: parley doc ask %s --case %s --audience %s",
			preview.ApprovalSide, docID, docID, *caseID, preview.To)
	}
	if preview.Document.E2EE || slices.ContainsFunc(preview.Document.Versions, func(v api.VersionInfo) bool { return v.E2EE && !v.Erased }) {
		// End-to-end encrypted: the name shown is checked against the one
		// its uploader's device signed before anything is asked.
		_, x, err := e2eeClient()
		if err != nil {
			return err
		}
		nc, err := x.VerifiedName(ctx, *caseID, docID)
		if errors.Is(err, client.ErrRelabelled) {
			return fmt.Errorf("not shared: the server shows %s as %q, which is not the name or type its uploader's device signed; it may be another document under a borrowed name (tell the program's administrator)", docID, preview.Document.Name)
		}
		if err != nil {
			return err
		}
		if nc.Verified {
			fmt.Fprintf(os.Stderr, "  name checked on this device: %q (%s), as its uploader's device signed it\n", nc.Name, nc.MediaType)
		} else {
			fmt.Fprintf(os.Stderr, "  name NOT verified: %q was encrypted before Parley signed documents' names, so it is the server's word; download it and look before you share it\n", nc.Name)
		}
	}
	if !*yes {
		fmt.Fprintf(os.Stderr, "Share %s with %s? [y/N] ", docID, preview.To)
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return errors.New("not shared")
		}
	}
	res, err := c.ShareDocument(ctx, *caseID, docID, *audience, false)
	var pe *client.Error
	if errors.As(err, &pe) && strings.HasSuffix(pe.Problem.Type, ":rewrap-required") {
		// End-to-end encrypted: this device wraps the keys for the new
		// audience (the server cannot).
		var x *client.E2EE
		if _, x, err = e2eeClient(); err == nil {
			res, err = x.ShareDocumentE2EE(ctx, *caseID, docID, *audience, false)
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(res)
	}
	if !samePeople(res.Gaining, preview.Gaining) || !samePeople(res.Losing, preview.Losing) {
		fmt.Fprintln(os.Stderr, "The case changed while you were deciding; this is what the share did:")
		describeShare(os.Stderr, res, false, labels)
	}
	fmt.Printf("Shared %s with %s.\n", docID, res.To)
	return nil
}

// caseSideLabels is the case's side labels by side id, to name people in
// words (api.PersonWords); empty when the case cannot be read, which names
// them "(party)" or "(lawyer)" without their side.
func caseSideLabels(ctx context.Context, c *client.Client, caseID string) map[string]string {
	out := map[string]string{}
	if k, err := c.Case(ctx, caseID); err == nil {
		for _, s := range k.Sides {
			out[s.ID] = s.Label
		}
	}
	return out
}

// personOf names p as everyone is named: "Avery Tran (Tenant)".
func personOf(p api.Person, labels map[string]string) string {
	return api.PersonWords(p.Name, api.ParticipantRole(p.Role), labels[p.Side])
}

func describeShare(w io.Writer, r api.ShareResult, preview bool, labels map[string]string) {
	will, lose := "will newly gain", "will lose"
	if !preview {
		will, lose = "newly gained", "lost"
	}
	fmt.Fprintf(w, "Sharing %s (%s → %s):\n", r.Document.Name, r.From, r.To)
	list := func(verb string, ps []api.Person) {
		if len(ps) == 0 {
			fmt.Fprintf(w, "  nobody %s access\n", verb)
			return
		}
		fmt.Fprintf(w, "  %d %s access:\n", len(ps), verb)
		for _, p := range ps {
			fmt.Fprintf(w, "    %s\n", personOf(p, labels))
		}
	}
	list(will, r.Gaining)
	list(lose, r.Losing)
}

func samePeople(a, b []api.Person) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].AccountID != b[i].AccountID {
			return false
		}
	}
	return true
}

func docHold(ctx context.Context, args []string) error {
	fs := newFlags("doc hold")
	caseID := fs.String("case", "", "case id")
	release := fs.Bool("release", false, "release the document's holds instead of placing one")
	reason := fs.String("reason", "", "why (required): the complaint, the request; for --release, why it is released")
	authority := fs.String("authority", "", "on what authority (required to place): the court order, the rule")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 1, "a document id")
	if err != nil {
		return err
	}
	if *reason == "" || (!*release && *authority == "") {
		return usagef("--reason and (to place a hold) --authority are required: a document hold is a legal hold like `parley hold place`")
	}
	d, err := c.HoldDocument(ctx, *caseID, fs.Arg(0), !*release, *reason, *authority)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(d)
	}
	state := "is under legal hold"
	if !d.Held {
		state = "is no longer held"
	}
	fmt.Printf("%s %s (%d versions).\n", d.ID, state, len(d.Versions))
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// docClient parses a doc verb's flags, checks its positional arguments and
// --case, and returns the API client of the saved session.
func docClient(fs *flag.FlagSet, args []string, caseID *string, nargs int, what string) (*client.Client, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := needArgs(fs, nargs, what); err != nil {
		return nil, err
	}
	if *caseID == "" {
		return nil, usagef("--case is required")
	}
	return apiClient()
}

// docKeys hands the document keys this device holds to the devices of
// each end-to-end encrypted document's audience that lack them.
func docKeys(ctx context.Context, args []string) error {
	fs := newFlags("doc keys")
	caseID := fs.String("case", "", "case id")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 0, "no arguments"); err != nil {
		return err
	}
	if *caseID == "" {
		return usagef("--case is required")
	}
	_, x, err := e2eeClient()
	if err != nil {
		return err
	}
	n, err := x.WrapForNewcomers(ctx, *caseID)
	if err != nil {
		return err
	}
	fmt.Printf("Wrapped %d document keys for devices that lacked them.\n", n)
	return nil
}

// docUpgrade re-encrypts server-encrypted documents end to end, one
// version at a time, with a progress bar per version.
func docUpgrade(ctx context.Context, args []string) error {
	fs := newFlags("doc upgrade")
	caseID := fs.String("case", "", "case id")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *caseID == "" {
		return usagef("--case is required")
	}
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	ids := fs.Args()
	if len(ids) == 0 {
		list, err := c.Documents(ctx, *caseID)
		if err != nil {
			return err
		}
		for _, d := range list {
			if d.CanDownload {
				ids = append(ids, d.ID)
			}
		}
	}
	total, skipped := 0, 0
	for i, id := range ids {
		var bar *progressbar.ProgressBar
		cur := 0
		n, err := x.UpgradeDocument(ctx, *caseID, id, func(doc string, v int, done, size int64) {
			if bar == nil || cur != v {
				if bar != nil {
					bar.Finish()
				}
				cur = v
				bar = progress(size, fmt.Sprintf("[%d/%d] %s version %d", i+1, len(ids), doc, v))
			}
			bar.Set64(done)
		})
		if bar != nil {
			bar.Finish()
		}
		if err != nil {
			var pe *client.Error
			if errors.As(err, &pe) && pe.Status == 409 {
				fmt.Fprintf(os.Stderr, "%s: not upgraded: %s\n", id, errWords(err))
				skipped++
				continue
			}
			return upgradeStopped(id, total+n, err)
		}
		total += n
	}
	fmt.Printf("Upgraded %d versions of %d documents to end-to-end encryption; %d documents left as they were.\n", total, len(ids)-skipped, skipped)
	return nil
}

// docAsk asks a document's side to allow sharing it wider.
func docAsk(ctx context.Context, args []string) error {
	fs := newFlags("doc ask")
	caseID := fs.String("case", "", "case id")
	audience := fs.String("audience", "", "the audience to ask for: joint, caucus:<side> or user:<account>[,<account>]")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 1, "a document id")
	if err != nil {
		return err
	}
	if *audience == "" {
		return usagef("--audience is required")
	}
	r, err := c.AskToShare(ctx, *caseID, fs.Arg(0), *audience)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(r)
	}
	labels := caseSideLabels(ctx, c, *caseID)
	side := r.Side
	fmt.Printf("Asked the %s side to allow showing %s (version %d) to %s (request %s, %s until %s).\n",
		cmp.Or(labels[side], side), r.Doc, r.Version, r.To, r.ID, r.Status, r.Expires.Local().Format("2 Jan 2006 15:04"))
	describeVersions(os.Stdout, r.Shows)
	describePeople(os.Stdout, "would newly see it", r.Gaining, labels)
	return nil
}

// docRequests lists share requests and their answers.
func docRequests(ctx context.Context, args []string) error {
	fs := newFlags("doc requests")
	caseID := fs.String("case", "", "case id")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 0, "")
	if err != nil {
		return err
	}
	list, err := c.ShareRequests(ctx, *caseID)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(list)
	}
	if len(list) == 0 {
		fmt.Println("No requests to share a side's documents.")
		return nil
	}
	k, err := c.Case(ctx, *caseID)
	if err != nil {
		return err
	}
	for _, r := range list {
		fmt.Printf("%s  %s v%d  the %s side asked: from %s to %s  %s  asked %s\n", r.ID, r.Doc, r.Version, cmp.Or(sideLabelOf(k, r.Side), r.Side),
			audienceInWords(k, r.From), audienceInWords(k, r.To), r.Status, r.Requested.Local().Format("2 Jan 15:04"))
	}
	return nil
}

// sideLabelOf is a side's label ("Tenant"), or "" when the case has none.
func sideLabelOf(k api.Case, side string) string {
	for _, sd := range k.Sides {
		if sd.ID == side {
			return sd.Label
		}
	}
	return ""
}

// audienceInWords says who an audience is: "the joint room", "the
// mediators only", "the Tenant caucus", or the people named.
func audienceInWords(k api.Case, aud string) string {
	switch {
	case aud == "joint":
		return "the joint room"
	case aud == "mediators":
		return "the mediators only"
	case strings.HasPrefix(aud, "caucus:"):
		side := strings.TrimPrefix(aud, "caucus:")
		return "the " + cmp.Or(sideLabelOf(k, side), side) + " caucus"
	case strings.HasPrefix(aud, "user:"):
		var names []string
		for _, id := range strings.Split(strings.TrimPrefix(aud, "user:"), ",") {
			name := "someone no longer in the case"
			if i := slices.IndexFunc(k.Participants, func(p api.Participant) bool { return p.AccountID == id }); i >= 0 {
				p := k.Participants[i]
				name = api.PersonWords(p.Name, p.Role, sideLabelOf(k, p.Side))
			} else if i := slices.IndexFunc(k.Mediators, func(m api.Mediator) bool { return m.AccountID == id }); i >= 0 {
				name = api.PersonWords(k.Mediators[i].Name, "mediator", "")
			}
			names = append(names, name)
		}
		return strings.Join(names, ", ")
	}
	return aud
}

// docAnswer allows or declines a request to share one of the caller's
// side's documents, after a confirmation naming who would see it.
func docAnswer(ctx context.Context, args []string) error {
	fs := newFlags("doc answer")
	caseID := fs.String("case", "", "case id")
	allow := fs.Bool("allow", false, "allow the share")
	decline := fs.Bool("decline", false, "decline the share")
	yes := fs.Bool("yes", false, "answer without asking for confirmation")
	asJSON := clientFlags(fs)
	c, err := docClient(fs, args, caseID, 2, "a document id and a request id")
	if err != nil {
		return err
	}
	if *allow == *decline {
		return usagef("give --allow or --decline")
	}
	docID, reqID := fs.Arg(0), fs.Arg(1)
	_, x, err := e2eeClient()
	if errors.Is(err, client.ErrNoDevice) {
		return fmt.Errorf("your answer is signed with this device's key, and it has none yet: run `parley keys init` first")
	}
	if err != nil {
		return err
	}
	list, err := c.ShareRequests(ctx, *caseID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(r api.DocShareRequest) bool { return r.ID == reqID && r.Doc == docID })
	if i < 0 {
		return fmt.Errorf("no request %s about %s for your side in case %s", reqID, docID, *caseID)
	}
	if *allow && !*yes {
		fmt.Fprintf(os.Stderr, "Allow the mediator to show %s to %s? This cannot be undone.\n", docID, list[i].To)
		describeVersions(os.Stderr, list[i].Shows)
		describePeople(os.Stderr, "would newly see it", list[i].Gaining, caseSideLabels(ctx, c, *caseID))
		fmt.Fprint(os.Stderr, "Allow? [y/N] ")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return errors.New("not answered")
		}
	}
	r, err := x.AnswerShareRequest(ctx, *caseID, list[i], *allow)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(r)
	}
	if r.Status == "approved" {
		fmt.Printf("Allowed: the mediator may now show %s to %s.\n", docID, r.To)
	} else {
		fmt.Printf("Declined: %s stays in your caucus.\n", docID)
	}
	return nil
}

// describeVersions lists the versions a share would show: a share moves
// the whole document, so every version not erased, not only the latest.
func describeVersions(w io.Writer, vs []api.VersionInfo) {
	if len(vs) < 2 {
		return
	}
	fmt.Fprintf(w, "  all %d versions would be shown, not only the latest:\n", len(vs))
	for _, v := range vs {
		if v.Name == "" { // (shownTo: added outside the reader's side)
			fmt.Fprintf(w, "    version %d: a version added outside your side, which you cannot open\n", v.Version)
			continue
		}
		fmt.Fprintf(w, "    version %d: %s, added %s\n", v.Version, v.Name, v.Created.Local().Format("2 Jan 2006 15:04"))
	}
}

func describePeople(w io.Writer, verb string, ps []api.Person, labels map[string]string) {
	if len(ps) == 0 {
		fmt.Fprintf(w, "  nobody %s\n", verb)
		return
	}
	fmt.Fprintf(w, "  %d %s:\n", len(ps), verb)
	for _, p := range ps {
		fmt.Fprintf(w, "    %s\n", personOf(p, labels))
	}
}

// stoppedUpgrade is `parley doc upgrade` stopped at document Doc after
// Upgraded versions (of earlier documents, and of this one) were
// upgraded: errWords keeps both in its plain words.
type stoppedUpgrade struct {
	Doc      string
	Upgraded int
	Err      error
}

func upgradeStopped(doc string, upgraded int, err error) error {
	return &stoppedUpgrade{Doc: doc, Upgraded: upgraded, Err: err}
}

func (e *stoppedUpgrade) Error() string {
	return fmt.Sprintf("%s: %v (%d versions upgraded before it)", e.Doc, e.Err, e.Upgraded)
}

func (e *stoppedUpgrade) Unwrap() error { return e.Err }
