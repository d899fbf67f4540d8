package tikvtest

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/kvops/operator/tikv/record"
)

// storeObject is what the replay reads of an element of a /stores answer:
// PD leaves "state" out for Up (0).
type storeObject struct {
	Store struct {
		ID    uint64 `json:"id"`
		State int    `json:"state"`
	} `json:"store"`
}

// storeList reads the latest answer to all the states: each store's raw
// object and what the replay reads of it; ok false when that answer is
// not a list of stores (a failure, or no answer), which the caller then
// serves as it was.
func (r *Replay) storeList() (raws []json.RawMessage, objs []storeObject, ok bool) {
	var list struct {
		Stores []json.RawMessage `json:"stores"`
	}
	if unreachable(r.stores) || r.stores.Status != http.StatusOK || json.Unmarshal(r.stores.Body, &list) != nil {
		return nil, nil, false
	}
	objs = make([]storeObject, len(list.Stores))
	for i, s := range list.Stores {
		_ = json.Unmarshal(s, &objs[i])
	}
	return list.Stores, objs, true
}

// filterStores answers GET /stores?state= from the latest answer to all
// the states; without ?state=, Up and Offline, as PD (and [Cluster])
// answer it.
func (r *Replay) filterStores(req *http.Request) response {
	raws, objs, ok := r.storeList()
	if !ok {
		return r.recorded(req, r.stores)
	}
	want, err := storeStates(req.URL.Query())
	if err != nil {
		return jsonStatus(http.StatusBadRequest, err.Error())
	}
	b := make([]byte, 0, len(r.stores.Body)+32)
	n := 0
	for i, raw := range raws {
		if !want[objs[i].Store.State] {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, raw...)
		n++
	}
	out := append([]byte(`{"count":`), strconv.Itoa(n)...)
	out = append(append(append(out, `,"stores":[`...), b...), "]}"...)
	return response{status: http.StatusOK, raw: true, rawBody: out, contentType: storesContentType(r.stores)}
}

// storesContentType is the Content-Type of the recorded stores answer,
// PD's JSON when it was not recorded.
func storesContentType(p *record.PD) string {
	if p.ContentType != "" {
		return p.ContentType
	}
	return contentJSON
}

// oneStore answers GET /store/{id} from the latest answer to all the
// states: the store's object, or PD's 404 when it is not there.
func (r *Replay) oneStore(req *http.Request, idText string) response {
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return inputError(err)
	}
	raws, objs, ok := r.storeList()
	if !ok {
		return r.recorded(req, r.stores)
	}
	for i, o := range objs {
		if o.Store.ID == id {
			return response{status: http.StatusOK, raw: true, rawBody: raws[i], contentType: storesContentType(r.stores)}
		}
	}
	return jsonStatus(http.StatusNotFound, storeNotFound(id))
}

// oneOperator answers GET /operators/{region_id} when the latest
// /operators answer lists no operator of the region.
func (r *Replay) oneOperator(idText string) (response, bool) {
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return inputError(err), true
	}
	var ops []struct {
		RegionID uint64 `json:"region_id"`
	}
	if unreachable(r.ops) || r.ops.Status != http.StatusOK || json.Unmarshal(r.ops.Body, &ops) != nil {
		return response{}, false
	}
	for _, o := range ops {
		if o.RegionID == id {
			return response{}, false // pending, but its status was not recorded
		}
	}
	return jsonStatus(http.StatusInternalServerError, "[PD:operator:ErrOperatorNotFound]operator not found"), true
}
