package mergedesk

import (
	"context"
	"encoding/json"
	"time"
)

// Trigger is a business rule that runs on ticket creates and updates
// (docs/api.md §10.1).
type Trigger struct {
	ID          int64
	Title       string
	Description *string
	Active      bool
	Position    int64
	Default     bool
	// CategoryID is the JSON value the client sent, echoed as is; nil is null.
	CategoryID json.RawMessage
	Conditions Conditions
	Actions    []Action
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Conditions are a trigger's all/any condition lists.
type Conditions struct {
	All []Condition `json:"all"`
	Any []Condition `json:"any"`
}

// Condition is one condition of a trigger. Value is always a string on the wire
// after normalisation (ids as decimal strings, "" for none).
type Condition struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

// Action is one action of a trigger. Value is a string, or a []string for the
// notification actions.
type Action struct {
	Field string `json:"field"`
	Value any    `json:"value"`
}

// UnmarshalJSON reads the stored form, turning lists into []string.
func (a *Action) UnmarshalJSON(b []byte) error {
	var raw struct {
		Field string          `json:"field"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	a.Field = raw.Field
	var list []string
	if err := json.Unmarshal(raw.Value, &list); err == nil && len(raw.Value) > 0 && raw.Value[0] == '[' {
		a.Value = list
		return nil
	}
	var s string
	if err := json.Unmarshal(raw.Value, &s); err != nil {
		a.Value = ""
		return nil
	}
	a.Value = s
	return nil
}

// TriggerWrite is the writable part of a trigger. Nil fields are left alone on
// update; on create Title, Conditions and Actions are required.
type TriggerWrite struct {
	Title       *string
	Description **string
	Active      *bool
	Position    *int64
	CategoryID  *json.RawMessage // pointer to nil: null
	Conditions  *Conditions
	Actions     *[]Action
}

func (c Conditions) Normal() Conditions {
	if c.All == nil {
		c.All = []Condition{}
	}
	if c.Any == nil {
		c.Any = []Condition{}
	}
	return c
}

// TicketHook runs inside the write transaction of every API, UI, channel and bulk
// job ticket create or update, after the write's own changes are applied and
// before the ticket and its audit are stored (triggers, docs/api.md §10.1). It never
// runs for imports, deletions or user merges. An error rolls the write back.
type TicketHook func(ctx context.Context, tx TicketTx, c *TicketChange) error

// TicketTx is what a TicketHook may read and do inside the ticket write's
// transaction: what it reads is consistent with the write, what it enqueues is
// committed with it, and functions given to After run only once it committed.
type TicketTx interface {
	ActiveTriggers(ctx context.Context) ([]*Trigger, error)
	User(ctx context.Context, id int64) (*User, error)
	Group(ctx context.Context, id int64) (*Group, error)
	Webhook(ctx context.Context, id string) (*Webhook, error)
	Enqueue(ctx context.Context, m *OutboxMessage) error
	After(f func())
}
