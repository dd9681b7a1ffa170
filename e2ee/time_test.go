package e2ee

import "time"

var fixedTime = time.UnixMilli(1767225600000)
