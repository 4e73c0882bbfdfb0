package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/trigger"
)

// triggerJSON is the trigger object of docs/api.md §10.1.
type triggerJSON struct {
	ID          int64                `json:"id"`
	URL         string               `json:"url"`
	Title       string               `json:"title"`
	RawTitle    string               `json:"raw_title"`
	Active      bool                 `json:"active"`
	Position    int64                `json:"position"`
	Default     bool                 `json:"default"`
	Description *string              `json:"description"`
	CategoryID  json.RawMessage      `json:"category_id"`
	Conditions  mergedesk.Conditions `json:"conditions"`
	Actions     []mergedesk.Action   `json:"actions"`
	CreatedAt   string               `json:"created_at"`
	UpdatedAt   string               `json:"updated_at"`
}

func (s *Server) triggerURL(r *http.Request, id int64) string {
	return s.url(r, "/triggers/"+strconv.FormatInt(id, 10))
}

func (s *Server) triggerView(r *http.Request, t *mergedesk.Trigger) *triggerJSON {
	cat := t.CategoryID
	if len(cat) == 0 {
		cat = json.RawMessage("null")
	}
	return &triggerJSON{ID: t.ID, URL: s.triggerURL(r, t.ID), Title: t.Title, RawTitle: t.Title, Active: t.Active,
		Position: t.Position, Default: t.Default, Description: t.Description, CategoryID: cat, Conditions: t.Conditions,
		Actions: t.Actions, CreatedAt: ts(t.CreatedAt), UpdatedAt: ts(t.UpdatedAt)}
}

// triggerBody is the writable part of a trigger in a request.
type triggerBody struct {
	Title       Opt[string]          `json:"title"`
	Description Opt[string]          `json:"description"`
	Active      Opt[bool]            `json:"active"`
	Position    Opt[Int]             `json:"position"`
	CategoryID  Opt[json.RawMessage] `json:"category_id"`
	Conditions  Opt[struct {
		All []ruleItem `json:"all"`
		Any []ruleItem `json:"any"`
	}] `json:"conditions"`
	Actions Opt[[]ruleItem] `json:"actions"`
}

// ruleItem is a condition or an action as clients send it: values may be
// strings, numbers (ids, Zendesk's numeric via ids), null, or lists.
type ruleItem struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    any    `json:"value"`
}

// scalar turns a JSON scalar into the string form triggers store.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

func conditionsOf(items []ruleItem) ([]mergedesk.Condition, error) {
	out := []mergedesk.Condition{}
	for _, it := range items {
		v, ok := scalar(it.Value)
		if !ok {
			return nil, mergedesk.Invalid("conditions", mergedesk.CodeInvalid, "Conditions: the value of %s must be a string", it.Field)
		}
		out = append(out, mergedesk.Condition{Field: strings.TrimSpace(it.Field), Operator: strings.TrimSpace(it.Operator), Value: v})
	}
	return out, nil
}

func actionsOf(items []ruleItem) ([]mergedesk.Action, error) {
	out := []mergedesk.Action{}
	for _, it := range items {
		a := mergedesk.Action{Field: strings.TrimSpace(it.Field)}
		if list, ok := it.Value.([]any); ok {
			vals := make([]string, len(list))
			for i, e := range list {
				if vals[i], ok = scalar(e); !ok {
					return nil, mergedesk.Invalid("actions", mergedesk.CodeInvalid, "Actions: the values of %s must be strings", a.Field)
				}
			}
			a.Value = vals
		} else {
			v, ok := scalar(it.Value)
			if !ok {
				return nil, mergedesk.Invalid("actions", mergedesk.CodeInvalid, "Actions: the value of %s must be a string or a list", a.Field)
			}
			a.Value = v
		}
		out = append(out, a)
	}
	return out, nil
}

// decodeTrigger reads {"trigger":{...}} and validates its conditions and
// actions, including that webhooks named by actions exist.
func (s *Server) decodeTrigger(r *http.Request) (mergedesk.TriggerWrite, error) {
	var env struct {
		Trigger *triggerBody `json:"trigger"`
	}
	var w mergedesk.TriggerWrite
	if err := decode(r, &env); err != nil {
		return w, err
	}
	b := env.Trigger
	if b == nil {
		return w, mergedesk.Errorf(mergedesk.EParamMissing, "trigger parameter is missing")
	}
	w.Title, w.Description, w.Active = b.Title.Ptr(), strUpdate(b.Description), b.Active.Ptr()
	if b.Position.Set && !b.Position.Null {
		p := int64(b.Position.V)
		w.Position = &p
	}
	if b.CategoryID.Set {
		raw := b.CategoryID.V
		w.CategoryID = &raw
	}
	if b.Conditions.Set {
		var c mergedesk.Conditions
		var err error
		if !b.Conditions.Null {
			if c.All, err = conditionsOf(b.Conditions.V.All); err != nil {
				return w, err
			}
			if c.Any, err = conditionsOf(b.Conditions.V.Any); err != nil {
				return w, err
			}
		}
		w.Conditions = &c
	}
	if b.Actions.Set && !b.Actions.Null {
		acts, err := actionsOf(b.Actions.V)
		if err != nil {
			return w, err
		}
		w.Actions = &acts
	}
	var conds mergedesk.Conditions
	if w.Conditions != nil {
		conds = *w.Conditions
	}
	var acts []mergedesk.Action
	if w.Actions != nil {
		acts = *w.Actions
	}
	if err := trigger.Validate(conds, acts); err != nil {
		return w, err
	}
	for _, a := range acts {
		if list, ok := a.Value.([]string); ok && a.Field == "notification_webhook" {
			if _, err := s.DB.Webhook(r.Context(), list[0]); mergedesk.ErrorCode(err) == mergedesk.ENotFound {
				return w, mergedesk.Invalid("actions", mergedesk.CodeInvalid, "Actions: notification_webhook: webhook %s does not exist", list[0])
			} else if err != nil {
				return w, err
			}
		}
	}
	return w, nil
}

func (s *Server) triggerRoutes() {
	s.handle("GET /triggers", Staff, s.listTriggers)
	s.handle("GET /triggers/active", Staff, s.listActiveTriggers)
	s.handle("GET /triggers/{id}", Staff, s.getTrigger)
	s.handle("POST /triggers", Admin, s.createTrigger)
	s.handle("PUT /triggers/{id}", Admin, s.updateTrigger)
	s.handle("DELETE /triggers/{id}", Admin, s.deleteTrigger)
}

func (s *Server) writeTriggers(w http.ResponseWriter, r *http.Request, active *bool) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ts, info, err := s.DB.Triggers(r.Context(), active, p)
	if err != nil {
		return err
	}
	out := make([]*triggerJSON, len(ts))
	for i, t := range ts {
		out[i] = s.triggerView(r, t)
	}
	first, last := ends(ts, func(t *mergedesk.Trigger) int64 { return t.ID })
	return s.list(w, r, "triggers", out, p, info, first, last)
}

func (s *Server) listTriggers(w http.ResponseWriter, r *http.Request) error {
	var active *bool
	if v := r.URL.Query().Get("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return mergedesk.Invalid("active", mergedesk.CodeInvalid, "Active: %q is not true or false", truncate(v, 40))
		}
		active = &b
	}
	return s.writeTriggers(w, r, active)
}

func (s *Server) listActiveTriggers(w http.ResponseWriter, r *http.Request) error {
	yes := true
	return s.writeTriggers(w, r, &yes)
}

func (s *Server) getTrigger(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := s.DB.Trigger(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"trigger": s.triggerView(r, t)})
}

func (s *Server) createTrigger(w http.ResponseWriter, r *http.Request) error {
	tw, err := s.decodeTrigger(r)
	if err != nil {
		return err
	}
	t, err := s.DB.CreateTrigger(r.Context(), tw)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.triggerURL(r, t.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{"trigger": s.triggerView(r, t)})
}

func (s *Server) updateTrigger(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.DB.Trigger(r.Context(), id); err != nil {
		return err
	}
	tw, err := s.decodeTrigger(r)
	if err != nil {
		return err
	}
	t, err := s.DB.UpdateTrigger(r.Context(), id, tw)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"trigger": s.triggerView(r, t)})
}

func (s *Server) deleteTrigger(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.DB.DeleteTrigger(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}
