package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// Config is what a Service needs.
type Config struct {
	Meta  *metastore.Store
	Cases *cases.Service
	// Accounts gives the creation lineages of a plan's planner and
	// choosers and of a schedule change's proposer, which policy weighs
	// when someone approves (retention.cedar: independence).
	Accounts *account.Service
	Vault    *vault.Service
	Policy   *policy.Engine
	Audit    *audit.Log
	// Signer signs certificates of destruction: the audit log's signer,
	// so that the audit log's public key verifies them too.
	Signer *audit.Signer
	// Parallel is how many records are worked on at once (default 16).
	Parallel int
	// PageSize is how many plan records one Apply step handles (default
	// DefaultPageSize).
	PageSize int
	// Log receives retention's warnings (nil: slog.Default()).
	Log *slog.Logger
	// Carries flushes the pending audit events of a case's carries
	// (keydir.Service.FlushCarries) before they are disposed of; nil, they
	// are only checked (carriesPending).
	Carries CarryFlusher
}

// CarryFlusher appends the pending audit events of a case's carry records
// and says how many carries still hold some (keydir.Service).
type CarryFlusher interface {
	FlushCarries(ctx context.Context, caseID string) (pending int, err error)
}

// DefaultPageSize is how many records a plan page holds: one Apply step.
const DefaultPageSize = 500

// MaxPlanRecords bounds one plan; a larger backlog takes several plans.
const MaxPlanRecords = 200_000

// Service runs retention.
type Service struct {
	logger   *slog.Logger
	meta     *metastore.Store
	store    objstore.Store
	cases    *cases.Service
	accounts *account.Service
	vault    *vault.Service
	policy   *policy.Engine
	audit    *audit.Log
	signer   *audit.Signer
	parallel int
	pageSize int
	carries  CarryFlusher
	now      func() time.Time
	// invMu guards inv, the inventory of token-keyed records of the plan
	// being applied (planInventory), and disp.
	invMu sync.Mutex
	inv   map[string]*inventory
	// disp (guarded by invMu too) is what the plan being applied has
	// read of the audit log about case disposals (goneCases).
	disp map[string]*disposals
	// hook, when set (tests), is called at every step boundary of Apply,
	// and by Approve between its audit entry and its update
	// ("approve-recorded"); an error from it stops there, as a crash would.
	hook func(step string) error
	// placeLoaded, when set (tests), is called by PlaceHold once it has
	// read the case, before anything is recorded.
	placeLoaded func()
	// placeStep, when set (tests), is called by PlaceHold at "doc-held"
	// (a document hold, once the vault holds the document, before the
	// hold is recorded) and at "recorded" (once the hold's record is
	// stored, before any storage hold is set on it).
	placeStep func(step string, h Hold)
	// releaseListed, when set (tests), is called by ReleaseHold once it
	// has listed the case's other holds, before it clears any storage
	// hold.
	releaseListed func()
}

// New makes a retention service.
func New(cfg Config) (*Service, error) {
	if cfg.Meta == nil || cfg.Cases == nil || cfg.Accounts == nil || cfg.Vault == nil || cfg.Policy == nil || cfg.Audit == nil || cfg.Signer == nil {
		return nil, errors.New("retention: New needs Meta, Cases, Accounts, Vault, Policy, Audit and Signer")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Service{logger: cfg.Log, meta: cfg.Meta, store: cfg.Meta.Objects(), cases: cfg.Cases, accounts: cfg.Accounts, vault: cfg.Vault,
		policy: cfg.Policy, audit: cfg.Audit, signer: cfg.Signer, parallel: cfg.Parallel,
		pageSize: cfg.PageSize, carries: cfg.Carries, now: time.Now}, nil
}

// VerifierKey is the public key that verifies certificates (and the audit
// log), in note format.
func (s *Service) VerifierKey() string { return s.signer.VerifierKey() }

// allow asks policy about a server-wide retention action and audits a
// refusal.
func (s *Service) allow(ctx context.Context, actor account.Account, a policy.Action) error {
	if s.policy.Decide(actor.Principal(), a, nil).Allowed {
		return nil
	}
	return s.refused(ctx, actor, a, "")
}

func (s *Service) refused(ctx context.Context, actor account.Account, a policy.Action, caseID string) error {
	s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID, Attrs: map[string]string{"action": string(a)}})
	return fmt.Errorf("%s: %w", a, fault.ErrForbidden)
}

func (s *Service) record(ctx context.Context, ev audit.Event) error {
	if ev.Time.IsZero() {
		ev.Time = s.now().UTC()
	}
	_, err := s.audit.Append(ctx, ev)
	return err
}

// settle follows ev, an entry appended before a change whose store call
// then returned cause, as audit.Settle says: a correction only once the
// record, read back, shows the change absent.
func (s *Service) settle(ctx context.Context, ev audit.Event, base string, cause error, landed func(context.Context) (bool, error)) {
	audit.Settle(ctx, s.record, s.logger, "retention", ev, base, fault.Class(cause), landed)
}

func (s *Service) step(name string) error {
	if s.hook == nil {
		return nil
	}
	if err := s.hook(name); err != nil {
		return fmt.Errorf("stopped at %s: %w", name, err)
	}
	return nil
}

// lineages returns everyone who controls the accounts ids, together: the
// transitive closure of their creator and resetter links as the account
// records have them now (account.Control). An account that cannot be
// read fails the approval that needs it: independence is never assumed.
func (s *Service) lineages(ctx context.Context, ids ...string) ([]string, error) {
	var out []string
	for _, id := range ids {
		a, err := s.accounts.ControlOf(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("the account %s: %w", id, err)
		}
		out = append(out, a.Lineage...)
	}
	return out, nil
}

// approver is the actor as policy must see it when it weighs their
// independence: its lineage is everyone who controls it (account.Control).
func (s *Service) approver(ctx context.Context, actor account.Account) (policy.User, error) {
	a, err := s.accounts.Control(ctx, actor)
	if err != nil {
		return policy.User{}, fmt.Errorf("your account: %w", err)
	}
	return a.Principal(), nil
}
