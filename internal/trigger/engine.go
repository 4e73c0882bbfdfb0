package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// Engine runs the active triggers on ticket writes. Set its fields before the
// server takes requests.
type Engine struct {
	// BaseURL is the public base URL, for {{ticket.url}}.
	BaseURL string
	Logger  *slog.Logger
	// Notify is called after a write that queued outbox messages commits; Main
	// points it at the outbox worker's Wake.
	Notify func()
}

// Install makes db run triggers on every ticket create and update by people,
// channels and bulk jobs (never imports or merges, which do not call the hook)
// and returns the engine for further configuration.
func Install(db interface{ SetTicketHook(mergedesk.TicketHook) }) *Engine {
	e := &Engine{}
	db.SetTicketHook(e.Hook)
	return e
}

// RuleVia is the via of the events a trigger writes (docs/api.md §7.1).
func RuleVia(t *mergedesk.Trigger) mergedesk.Via {
	v := mergedesk.NewVia("rule")
	v.Source.From = map[string]any{"id": t.ID, "title": t.Title}
	rel := "trigger"
	v.Source.Rel = &rel
	return v
}

// notice is a notification action of a fired trigger, rendered once all
// triggers have run so that its placeholders see the final ticket.
type notice struct {
	trigger *mergedesk.Trigger
	field   string
	via     mergedesk.Via
	value   []string
}

// Hook is the mergedesk.TicketHook: it checks the active triggers in position
// order, fires each at most once, and starts again from the top after each
// firing until a pass fires nothing. A trigger's field changes go into the
// write's audit with the rule via; its notifications become Notification and
// External events plus outbox messages, sent after commit.
func (e *Engine) Hook(ctx context.Context, tx mergedesk.TicketTx, c *mergedesk.TicketChange) error {
	if !c.Create && len(c.Audit.Events) == 0 {
		return nil // nothing changed: nothing is written, so nothing fires
	}
	triggers, err := tx.ActiveTriggers(ctx)
	if err != nil || len(triggers) == 0 {
		return err
	}
	fired := make([]bool, len(triggers))
	var notices []notice
	for pass := true; pass; {
		pass = false
		for i, t := range triggers {
			if fired[i] || !Matches(t.Conditions, State{Create: c.Create, Previous: c.Previous, Ticket: c.Ticket, Channel: c.Via.Channel}) {
				continue
			}
			fired[i], pass = true, true
			via := RuleVia(t)
			for _, a := range t.Actions {
				if list, ok := a.Value.([]string); ok {
					notices = append(notices, notice{trigger: t, field: a.Field, via: via, value: list})
					continue
				}
				if err := e.apply(ctx, tx, c, t, a, &via); err != nil {
					return err
				}
			}
			break
		}
	}
	if len(notices) == 0 {
		return nil
	}
	return e.notify(ctx, tx, c, notices)
}

// apply performs one field action. An action that cannot apply (a deleted group,
// an assignee who is no longer an agent) is skipped and logged: a stale rule
// must not refuse a customer's message.
func (e *Engine) apply(ctx context.Context, tx mergedesk.TicketTx, c *mergedesk.TicketChange, t *mergedesk.Trigger, a mergedesk.Action, via *mergedesk.Via) error {
	v, _ := a.Value.(string)
	skip := func(why string) error {
		e.logger().Warn("trigger action skipped", "trigger", t.ID, "ticket", c.Ticket.ID, "field", a.Field, "value", v, "reason", why)
		return nil
	}
	switch a.Field {
	case "status", "priority":
		if err := c.Set(a.Field, v, via); err != nil {
			return skip(err.Error())
		}
		return nil
	case "group_id":
		if v != "" {
			id, _ := strconv.ParseInt(v, 10, 64)
			g, err := tx.Group(ctx, id)
			if mergedesk.ErrorCode(err) == mergedesk.ENotFound || err == nil && g.Deleted {
				return skip("no such group")
			}
			if err != nil {
				return err
			}
		}
		return c.Set("group_id", v, via)
	case "assignee_id":
		if v == "current_user" {
			v = strconv.FormatInt(c.ActorID, 10)
		}
		if v != "" {
			id, _ := strconv.ParseInt(v, 10, 64)
			u, err := tx.User(ctx, id)
			if mergedesk.ErrorCode(err) == mergedesk.ENotFound || err == nil && (!u.Active || !u.IsStaff()) {
				return skip("not an active agent")
			}
			if err != nil {
				return err
			}
		}
		return c.Set("assignee_id", v, via)
	case "current_tags", "set_tags", "remove_tags":
		tags := mergedesk.NormTags(strings.Fields(v))
		switch a.Field {
		case "current_tags":
			tags = mergedesk.NormTags(append(slices.Clone(c.Ticket.Tags), tags...))
		case "remove_tags":
			tags = slices.DeleteFunc(slices.Clone(c.Ticket.Tags), func(s string) bool { return slices.Contains(tags, s) })
		}
		return c.Set("tags", strings.Join(tags, " "), via)
	}
	return skip("unknown action")
}

// notify renders the notification actions against the final ticket, records
// their events and queues their deliveries.
func (e *Engine) notify(ctx context.Context, tx mergedesk.TicketTx, c *mergedesk.TicketChange, notices []notice) error {
	t := c.Ticket
	requester, err := tx.User(ctx, t.RequesterID)
	if err != nil && mergedesk.ErrorCode(err) != mergedesk.ENotFound {
		return err
	}
	data := TemplateData(t, requester, fmt.Sprintf("%s/api/v2/tickets/%d.json", e.BaseURL, t.ID), c.ActorID)
	queued := false
	for _, n := range notices {
		if n.field == "notification_webhook" { // [webhook_id, body]
			w, err := tx.Webhook(ctx, n.value[0])
			if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
				e.logger().Info("trigger webhook skipped: no such webhook", "trigger", n.trigger.ID, "webhook", n.value[0])
				continue
			}
			if err != nil {
				return err
			}
			if w.Status != "active" {
				continue
			}
			body := Render(n.value[1], data, w.RequestFormat == "json")
			c.Audit.Events = append(c.Audit.Events, mergedesk.Event{Type: mergedesk.EventExternal,
				Fields: map[string]any{"via": n.via, "resource": w.ID, "body": body}})
			if err := tx.Enqueue(ctx, &mergedesk.OutboxMessage{Kind: mergedesk.OutboxWebhook, TicketID: t.ID,
				TriggerID: n.trigger.ID, WebhookID: w.ID, Body: body}); err != nil {
				return err
			}
			queued = true
			continue
		}
		// notification_user [recipient, subject, body]
		var rid int64
		switch n.value[0] {
		case "requester_id":
			rid = t.RequesterID
		case "assignee_id":
			if t.AssigneeID != nil {
				rid = *t.AssigneeID
			}
		case "current_user":
			rid = c.ActorID
		default:
			rid, _ = strconv.ParseInt(n.value[0], 10, 64)
		}
		if rid <= 0 {
			continue
		}
		u, err := tx.User(ctx, rid)
		if mergedesk.ErrorCode(err) == mergedesk.ENotFound {
			continue
		}
		if err != nil {
			return err
		}
		if !u.Active {
			continue
		}
		subject, body := Render(n.value[1], data, false), Render(n.value[2], data, false)
		c.Audit.Events = append(c.Audit.Events, mergedesk.Event{Type: mergedesk.EventNotification,
			Fields: map[string]any{"via": n.via, "subject": subject, "body": body, "recipients": []int64{u.ID}}})
		addr := u.Email()
		if addr == nil {
			continue // no address to mail: the event records the notification
		}
		if err := tx.Enqueue(ctx, &mergedesk.OutboxMessage{Kind: mergedesk.OutboxEmail, TicketID: t.ID, TriggerID: n.trigger.ID,
			RecipientID: u.ID, Recipient: *addr, Subject: subject, Body: body}); err != nil {
			return err
		}
		queued = true
	}
	if queued && e.Notify != nil {
		tx.After(e.Notify)
	}
	return nil
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}
