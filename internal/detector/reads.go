package detector

import (
	"context"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/duplicates"
)

// ForUser computes the possible duplicates of one user live (GET
// /users/{id}/duplicates): at most 20, best first, scoring at least minScore
// (the account's duplicates.min_score when nil); dismissed pairs only when
// includeDismissed. Each candidate carries the other user, the stored
// suggestion of the pair if there is one, the suggested target and the merge
// eligibility (rule D6). An unknown user gives RecordNotFound; a user who is
// not an active end user has no duplicates (D1).
func (d *Detector) ForUser(ctx context.Context, userID int64, minScore *float64, includeDismissed bool) ([]mergedesk.DuplicateCandidate, error) {
	if _, err := d.DB.User(ctx, userID); err != nil {
		return nil, err
	}
	s, err := d.DB.Settings(ctx)
	if err != nil {
		return nil, err
	}
	threshold := s.Duplicates.MinScore
	if minScore != nil {
		if err := mergedesk.CheckMinScore(*minScore); err != nil {
			return nil, err
		}
		threshold = *minScore
	}
	out := []mergedesk.DuplicateCandidate{}
	ps, err := d.DB.DuplicateProfiles(ctx, []int64{userID}, s.Duplicates.UserFields)
	if err != nil || len(ps) == 0 {
		return out, err
	}
	scoredList, err := d.compare(ctx, ps[0], duplicates.Keys(ps[0]), s.Duplicates.UserFields)
	if err != nil {
		return nil, err
	}
	stored, err := d.DB.UserDuplicateSuggestions(ctx, userID)
	if err != nil {
		return nil, err
	}
	byOther := map[int64]*mergedesk.DuplicateSuggestion{}
	for _, sg := range stored {
		byOther[sg.Other(userID)] = sg
	}
	var pairs []mergedesk.DuplicateSuggestion
	var others []int64
	for _, c := range scoredList {
		if c.Score < threshold {
			continue
		}
		sg := byOther[c.other]
		if sg != nil && sg.Status == mergedesk.SuggestionDismissed && !includeDismissed {
			continue
		}
		pairs = append(pairs, mergedesk.DuplicateSuggestion{UserIDs: [2]int64{min(userID, c.other), max(userID, c.other)}, Score: c.Score, Reasons: c.Reasons})
		others = append(others, c.other)
		if len(pairs) == maxForUser {
			break
		}
	}
	if len(pairs) == 0 {
		return out, nil
	}
	if err := d.direct(ctx, pairs); err != nil {
		return nil, err
	}
	users, err := d.DB.UsersByIDs(ctx, others)
	if err != nil {
		return nil, err
	}
	byID := map[int64]*mergedesk.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	for i, p := range pairs {
		u := byID[others[i]]
		if u == nil {
			continue
		}
		reasons := p.Reasons
		if reasons == nil {
			reasons = []mergedesk.DuplicateReason{}
		}
		c := mergedesk.DuplicateCandidate{User: u, Score: p.Score, Reasons: reasons, Suggestion: byOther[u.ID],
			SuggestedTargetID: p.SuggestedTargetID}
		if c.Merge, err = d.eligibility(ctx, p.UserIDs, p.SuggestedTargetID); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// eligibility is the merge preview's answer for merging the pair into target
// (rule D6): the same blockers PUT /users/{source}/merge would refuse with.
func (d *Detector) eligibility(ctx context.Context, pair [2]int64, target int64) (*mergedesk.MergeEligibility, error) {
	source := pair[0]
	if source == target {
		source = pair[1]
	}
	plan, err := d.DB.PreviewMerge(ctx, source, target)
	if err != nil {
		return nil, err
	}
	blockers := plan.Blockers
	if blockers == nil {
		blockers = []mergedesk.FieldError{}
	}
	return &mergedesk.MergeEligibility{Eligible: plan.Eligible(), Blockers: blockers}, nil
}

func (d *Detector) fill(ctx context.Context, s *mergedesk.DuplicateSuggestion) (*mergedesk.DuplicateSuggestion, error) {
	var err error
	s.Merge, err = d.eligibility(ctx, s.UserIDs, s.SuggestedTargetID)
	return s, err
}

// Suggestions lists stored suggestions, best first, with their merge
// eligibility. An invalid filter gives RecordInvalid naming the field.
func (d *Detector) Suggestions(ctx context.Context, f mergedesk.SuggestionFilter, p mergedesk.Page) ([]*mergedesk.DuplicateSuggestion, mergedesk.PageInfo, error) {
	if err := f.Normalize(); err != nil {
		return nil, mergedesk.PageInfo{}, err
	}
	list, info, err := d.DB.DuplicateSuggestions(ctx, f, p)
	if err != nil {
		return nil, info, err
	}
	for _, s := range list {
		if _, err := d.fill(ctx, s); err != nil {
			return nil, info, err
		}
	}
	return list, info, nil
}

// Suggestion returns one stored suggestion with its merge eligibility, or
// RecordNotFound.
func (d *Detector) Suggestion(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error) {
	s, err := d.DB.DuplicateSuggestion(ctx, id)
	if err != nil {
		return nil, err
	}
	return d.fill(ctx, s)
}

// Dismiss marks a suggestion "not the same person" on behalf of actorID (rule D7).
func (d *Detector) Dismiss(ctx context.Context, id, actorID int64) (*mergedesk.DuplicateSuggestion, error) {
	s, err := d.DB.DismissDuplicate(ctx, id, actorID)
	if err != nil {
		return nil, err
	}
	return d.fill(ctx, s)
}

// Restore undoes a dismissal; the pair is scored afresh by the live worker.
func (d *Detector) Restore(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error) {
	s, err := d.DB.RestoreDuplicate(ctx, id)
	if err != nil {
		return nil, err
	}
	d.Wake()
	return d.fill(ctx, s)
}
