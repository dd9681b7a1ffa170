package policy

// EvaluationExport is the action of running the anonymized
// program-evaluation export (server-wide: Decide with a nil case).
const EvaluationExport Action = "evaluation.export"
