package api

import "time"

// DueReport is what falls due for disposal in the next days
// (GET /api/v1/retention/due?days=30): every record whose due date is on
// or before Until (those before Now are due already), held ones with
// their holds. Ids, references, classes, dates and sizes only.
type DueReport struct {
	Now   time.Time `json:"now"`
	Until time.Time `json:"until"`
	Items []Item    `json:"items"`
}

func (DueReport) wire() {}
