package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// Help Center contributions (docs/api.md §11) exist so that rule M26 can be observed:
// they stay attached to the user who made them, even one merged away.

// contributor checks that a user may contribute: it exists and is active.
// field names the request field that referred to it.
func contributor(ctx context.Context, q querier, field string, id int64) error {
	var u mergedesk.User
	var merged sql.NullInt64
	err := q.queryRow(ctx, "SELECT id, active, merged_into_id FROM users WHERE id = ?", id).Scan(&u.ID, &u.Active, &merged)
	if errors.Is(err, sql.ErrNoRows) {
		return mergedesk.Invalid(field, mergedesk.CodeInvalid, "User: %d does not exist", id)
	}
	if err != nil {
		return fmt.Errorf("user %d: %w", id, err)
	}
	if !u.Active {
		u.MergedIntoID = int64Ptr(merged)
		return inactiveError(field, &u)
	}
	return nil
}

const postColumns = `p.id, p.title, p.details, p.author_id, p.topic_id, p.status, p.pinned, p.featured, p.closed,
	(SELECT CAST(COALESCE(SUM(v.value), 0) AS BIGINT) FROM votes v WHERE v.post_id = p.id),
	(SELECT COUNT(*) FROM votes v WHERE v.post_id = p.id),
	(SELECT COUNT(*) FROM post_comments c WHERE c.post_id = p.id),
	(SELECT COUNT(*) FROM subscriptions s WHERE s.post_id = p.id),
	p.created_at, p.updated_at`

func loadPosts(ctx context.Context, q querier, ids []int64) ([]*mergedesk.Post, error) {
	out := []*mergedesk.Post{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inArgs(ids)
	rows, err := q.query(ctx, "SELECT "+postColumns+" FROM posts p WHERE p.id IN ("+in+")", args...)
	if err != nil {
		return nil, fmt.Errorf("load posts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p mergedesk.Post
		var topic sql.NullInt64
		var c, u int64
		if err := rows.Scan(&p.ID, &p.Title, &p.Details, &p.AuthorID, &topic, &p.Status, &p.Pinned, &p.Featured, &p.Closed,
			&p.VoteSum, &p.VoteCount, &p.CommentCount, &p.FollowerCount, &c, &u); err != nil {
			return nil, fmt.Errorf("scan post: %w", err)
		}
		p.TopicID, p.CreatedAt, p.UpdatedAt = int64Ptr(topic), fromUnix(c), fromUnix(u)
		out = append(out, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return orderBy(ids, out, func(p *mergedesk.Post) int64 { return p.ID }), nil
}

func loadPost(ctx context.Context, q querier, id int64) (*mergedesk.Post, error) {
	ps, err := loadPosts(ctx, q, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, mergedesk.NotFound()
	}
	return ps[0], nil
}

// Post returns one post. Errors: RecordNotFound.
func (db *DB) Post(ctx context.Context, id int64) (*mergedesk.Post, error) {
	return loadPost(ctx, db.r(), id)
}

// Posts lists posts in id order.
func (db *DB) Posts(ctx context.Context, f mergedesk.PostFilter, p mergedesk.Page) ([]*mergedesk.Post, mergedesk.PageInfo, error) {
	where, args := "1 = 1", []any(nil)
	if f.AuthorID != nil {
		where, args = "author_id = ?", []any{*f.AuthorID}
	}
	ids, info, err := pageIDs(ctx, db.r(), "posts", where, args, p)
	if err != nil {
		return nil, info, fmt.Errorf("list posts: %w", err)
	}
	ps, err := loadPosts(ctx, db.r(), ids)
	return ps, info, err
}

// CreatePost creates a post on behalf of its author. Errors: RecordInvalid
// (title BlankValue or TooLong; status InvalidValue; author_id InvalidValue or
// UserInactive).
func (db *DB) CreatePost(ctx context.Context, np mergedesk.NewPost) (*mergedesk.Post, error) {
	if err := np.Normalize(); err != nil {
		return nil, err
	}
	var out *mergedesk.Post
	err := db.Update(ctx, func(tx *Tx) error {
		if err := contributor(ctx, tx, "author_id", np.AuthorID); err != nil {
			return err
		}
		now := unix(tx.now)
		id, err := tx.insert(ctx, `INSERT INTO posts (title, details, author_id, topic_id, status, pinned, featured, closed,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			np.Title, np.Details, np.AuthorID, nullable(np.TopicID), np.Status, np.Pinned, np.Featured, np.Closed, now, now)
		if err != nil {
			return fmt.Errorf("insert post: %w", err)
		}
		out, err = loadPost(ctx, tx, id)
		return err
	})
	return out, err
}

// DeletePost deletes a post with its comments, votes and subscriptions.
// Errors: RecordNotFound.
func (db *DB) DeletePost(ctx context.Context, id int64) error {
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := loadPost(ctx, tx, id); err != nil {
			return err
		}
		for _, t := range []string{"post_comments", "votes", "subscriptions"} {
			if _, err := tx.exec(ctx, "DELETE FROM "+t+" WHERE post_id = ?", id); err != nil {
				return fmt.Errorf("delete post %d: %w", id, err)
			}
		}
		if _, err := tx.exec(ctx, "DELETE FROM posts WHERE id = ?", id); err != nil {
			return fmt.Errorf("delete post %d: %w", id, err)
		}
		return nil
	})
}

// livePost checks that a post exists before something is attached to it.
func livePost(ctx context.Context, q querier, id int64) error {
	var n int
	if err := q.queryRow(ctx, "SELECT COUNT(*) FROM posts WHERE id = ?", id).Scan(&n); err != nil {
		return fmt.Errorf("post %d: %w", id, err)
	}
	if n == 0 {
		return mergedesk.NotFound()
	}
	return nil
}

// touchPost records activity on a post.
func touchPost(ctx context.Context, tx *Tx, id int64) error {
	_, err := tx.exec(ctx, "UPDATE posts SET updated_at = ? WHERE id = ?", unix(tx.now), id)
	return err
}

func loadPostComments(ctx context.Context, q querier, ids []int64) ([]*mergedesk.PostComment, error) {
	out := []*mergedesk.PostComment{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inArgs(ids)
	rows, err := q.query(ctx, "SELECT id, post_id, author_id, body, created_at, updated_at FROM post_comments WHERE id IN ("+in+")", args...)
	if err != nil {
		return nil, fmt.Errorf("load post comments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c mergedesk.PostComment
		var ca, ua int64
		if err := rows.Scan(&c.ID, &c.PostID, &c.AuthorID, &c.Body, &ca, &ua); err != nil {
			return nil, fmt.Errorf("scan post comment: %w", err)
		}
		c.CreatedAt, c.UpdatedAt = fromUnix(ca), fromUnix(ua)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return orderBy(ids, out, func(c *mergedesk.PostComment) int64 { return c.ID }), nil
}

// PostComment returns one comment of a post. Errors: RecordNotFound.
func (db *DB) PostComment(ctx context.Context, postID, id int64) (*mergedesk.PostComment, error) {
	cs, err := loadPostComments(ctx, db.r(), []int64{id})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 || cs[0].PostID != postID {
		return nil, mergedesk.NotFound()
	}
	return cs[0], nil
}

// PostComments lists post comments in id order.
func (db *DB) PostComments(ctx context.Context, f mergedesk.CommentFilter, p mergedesk.Page) ([]*mergedesk.PostComment, mergedesk.PageInfo, error) {
	where := []string{"1 = 1"}
	var args []any
	if f.PostID != nil {
		where = append(where, "post_id = ?")
		args = append(args, *f.PostID)
	}
	if f.AuthorID != nil {
		where = append(where, "author_id = ?")
		args = append(args, *f.AuthorID)
	}
	ids, info, err := pageIDs(ctx, db.r(), "post_comments", strings.Join(where, " AND "), args, p)
	if err != nil {
		return nil, info, fmt.Errorf("list post comments: %w", err)
	}
	cs, err := loadPostComments(ctx, db.r(), ids)
	return cs, info, err
}

// CreatePostComment comments on a post on behalf of its author. Errors:
// RecordNotFound (post), RecordInvalid (body BlankValue; author_id InvalidValue
// or UserInactive).
func (db *DB) CreatePostComment(ctx context.Context, postID, authorID int64, body string) (*mergedesk.PostComment, error) {
	if strings.TrimSpace(body) == "" {
		return nil, mergedesk.Invalid("body", mergedesk.CodeBlank, "Body: cannot be blank")
	}
	var out *mergedesk.PostComment
	err := db.Update(ctx, func(tx *Tx) error {
		if err := livePost(ctx, tx, postID); err != nil {
			return err
		}
		if err := contributor(ctx, tx, "author_id", authorID); err != nil {
			return err
		}
		now := unix(tx.now)
		id, err := tx.insert(ctx, "INSERT INTO post_comments (post_id, author_id, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
			postID, authorID, body, now, now)
		if err != nil {
			return fmt.Errorf("insert post comment: %w", err)
		}
		if err := touchPost(ctx, tx, postID); err != nil {
			return err
		}
		cs, err := loadPostComments(ctx, tx, []int64{id})
		if err != nil {
			return err
		}
		out = cs[0]
		return nil
	})
	return out, err
}

func loadVotes(ctx context.Context, q querier, where string, args ...any) ([]*mergedesk.Vote, error) {
	rows, err := q.query(ctx, "SELECT id, post_id, user_id, value, created_at, updated_at FROM votes WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("load votes: %w", err)
	}
	defer rows.Close()
	out := []*mergedesk.Vote{}
	for rows.Next() {
		var v mergedesk.Vote
		var c, u int64
		if err := rows.Scan(&v.ID, &v.PostID, &v.UserID, &v.Value, &c, &u); err != nil {
			return nil, fmt.Errorf("scan vote: %w", err)
		}
		v.CreatedAt, v.UpdatedAt = fromUnix(c), fromUnix(u)
		out = append(out, &v)
	}
	return out, rows.Err()
}

// Vote returns one vote. Errors: RecordNotFound.
func (db *DB) Vote(ctx context.Context, id int64) (*mergedesk.Vote, error) {
	vs, err := loadVotes(ctx, db.r(), "id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, mergedesk.NotFound()
	}
	return vs[0], nil
}

// Votes lists the votes on a post in id order.
func (db *DB) Votes(ctx context.Context, postID int64, p mergedesk.Page) ([]*mergedesk.Vote, mergedesk.PageInfo, error) {
	ids, info, err := pageIDs(ctx, db.r(), "votes", "post_id = ?", []any{postID}, p)
	if err != nil || len(ids) == 0 {
		return []*mergedesk.Vote{}, info, err
	}
	in, args := inArgs(ids)
	vs, err := loadVotes(ctx, db.r(), "id IN ("+in+")", args...)
	if err != nil {
		return nil, info, err
	}
	return orderBy(ids, vs, func(v *mergedesk.Vote) int64 { return v.ID }), info, nil
}

// CastVote records a user's vote (1 or -1) on a post. A user has one vote per
// post: a new vote replaces the value of the old one, which keeps its id.
// Errors: RecordNotFound (post), RecordInvalid (value InvalidValue; user_id
// InvalidValue or UserInactive).
func (db *DB) CastVote(ctx context.Context, postID, userID int64, value int) (*mergedesk.Vote, error) {
	if value != 1 && value != -1 {
		return nil, mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: must be 1 or -1")
	}
	var out *mergedesk.Vote
	err := db.Update(ctx, func(tx *Tx) error {
		if err := livePost(ctx, tx, postID); err != nil {
			return err
		}
		if err := contributor(ctx, tx, "user_id", userID); err != nil {
			return err
		}
		now := unix(tx.now)
		res, err := tx.exec(ctx, "UPDATE votes SET value = ?, updated_at = ? WHERE post_id = ? AND user_id = ?", value, now, postID, userID)
		if err != nil {
			return fmt.Errorf("vote on post %d: %w", postID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.insert(ctx, "INSERT INTO votes (post_id, user_id, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
				postID, userID, value, now, now); err != nil {
				return fmt.Errorf("vote on post %d: %w", postID, err)
			}
		}
		vs, err := loadVotes(ctx, tx, "post_id = ? AND user_id = ?", postID, userID)
		if err != nil {
			return err
		}
		out = vs[0]
		return nil
	})
	return out, err
}

func loadSubscriptions(ctx context.Context, q querier, where string, args ...any) ([]*mergedesk.PostSubscription, error) {
	rows, err := q.query(ctx, "SELECT id, post_id, user_id, created_at, updated_at FROM subscriptions WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	defer rows.Close()
	out := []*mergedesk.PostSubscription{}
	for rows.Next() {
		var s mergedesk.PostSubscription
		var c, u int64
		if err := rows.Scan(&s.ID, &s.PostID, &s.UserID, &c, &u); err != nil {
			return nil, fmt.Errorf("scan subscription: %w", err)
		}
		s.CreatedAt, s.UpdatedAt = fromUnix(c), fromUnix(u)
		out = append(out, &s)
	}
	return out, rows.Err()
}

// PostSubscription returns one subscription to a post. Errors: RecordNotFound.
func (db *DB) PostSubscription(ctx context.Context, postID, id int64) (*mergedesk.PostSubscription, error) {
	ss, err := loadSubscriptions(ctx, db.r(), "id = ? AND post_id = ?", id, postID)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, mergedesk.NotFound()
	}
	return ss[0], nil
}

// PostSubscriptions lists the subscriptions to a post in id order.
func (db *DB) PostSubscriptions(ctx context.Context, postID int64, p mergedesk.Page) ([]*mergedesk.PostSubscription, mergedesk.PageInfo, error) {
	ids, info, err := pageIDs(ctx, db.r(), "subscriptions", "post_id = ?", []any{postID}, p)
	if err != nil || len(ids) == 0 {
		return []*mergedesk.PostSubscription{}, info, err
	}
	in, args := inArgs(ids)
	ss, err := loadSubscriptions(ctx, db.r(), "id IN ("+in+")", args...)
	if err != nil {
		return nil, info, err
	}
	return orderBy(ids, ss, func(s *mergedesk.PostSubscription) int64 { return s.ID }), info, nil
}

// Subscribe makes a user follow a post. Errors: RecordNotFound (post),
// RecordInvalid (user_id InvalidValue, UserInactive or DuplicateValue when the
// user already follows the post).
func (db *DB) Subscribe(ctx context.Context, postID, userID int64) (*mergedesk.PostSubscription, error) {
	var out *mergedesk.PostSubscription
	err := db.Update(ctx, func(tx *Tx) error {
		if err := livePost(ctx, tx, postID); err != nil {
			return err
		}
		if err := contributor(ctx, tx, "user_id", userID); err != nil {
			return err
		}
		now := unix(tx.now)
		id, err := tx.insert(ctx, "INSERT INTO subscriptions (post_id, user_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
			postID, userID, now, now)
		if isUniqueViolation(err) {
			return mergedesk.Invalid("user_id", mergedesk.CodeDuplicate, "User: %d is already subscribed to post %d", userID, postID)
		}
		if err != nil {
			return fmt.Errorf("subscribe to post %d: %w", postID, err)
		}
		ss, err := loadSubscriptions(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		out = ss[0]
		return nil
	})
	return out, err
}

// HelpCenterCounts counts a user's Help Center contributions: posts and comments
// written, votes cast and posts followed (the help_center row of a merge, M26).
func (db *DB) HelpCenterCounts(ctx context.Context, userID int64) (posts, comments, votes, subscriptions int, err error) {
	return helpCenterCounts(ctx, db.r(), userID)
}

// helpCenterCounts is HelpCenterCounts for use inside a transaction.
func helpCenterCounts(ctx context.Context, q querier, userID int64) (posts, comments, votes, subscriptions int, err error) {
	err = q.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM posts WHERE author_id = ?),
		(SELECT COUNT(*) FROM post_comments WHERE author_id = ?),
		(SELECT COUNT(*) FROM votes WHERE user_id = ?),
		(SELECT COUNT(*) FROM subscriptions WHERE user_id = ?)`, userID, userID, userID, userID).
		Scan(&posts, &comments, &votes, &subscriptions)
	if err != nil {
		err = fmt.Errorf("help center counts of user %d: %w", userID, err)
	}
	return posts, comments, votes, subscriptions, err
}
