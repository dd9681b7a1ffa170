package messaging

import (
	"encoding/json"

	"github.com/parley-mediation/parley/api"
)

func encodeFrame(f api.ServerFrame) []byte {
	b, _ := json.Marshal(f)
	return b
}
