package sys

// Aliases for the external tests (package sys_test), which import
// internal/testutil and so cannot live in package sys.
type (
	MapElemAttr  = mapElemAttr
	MapBatchAttr = mapBatchAttr
	ObjAttr      = objAttr
	GetIDAttr    = getIDAttr
	InfoAttr     = infoAttr
	BTFLoadAttr  = btfLoadAttr
)

var ParseCPURange = parseCPURange
