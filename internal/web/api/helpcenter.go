package api

import (
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
)

// Help Center contributions (docs/api.md §11). Agents and admins write on behalf of
// any active user through author_id or user_id, which default to the caller.

type postJSON struct {
	ID            int64  `json:"id"`
	URL           string `json:"url"`
	Title         string `json:"title"`
	Details       string `json:"details"`
	AuthorID      int64  `json:"author_id"`
	TopicID       *int64 `json:"topic_id"`
	Status        string `json:"status"`
	Pinned        bool   `json:"pinned"`
	Featured      bool   `json:"featured"`
	Closed        bool   `json:"closed"`
	VoteSum       int64  `json:"vote_sum"`
	VoteCount     int64  `json:"vote_count"`
	CommentCount  int64  `json:"comment_count"`
	FollowerCount int64  `json:"follower_count"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

type postCommentJSON struct {
	ID        int64  `json:"id"`
	URL       string `json:"url"`
	PostID    int64  `json:"post_id"`
	AuthorID  int64  `json:"author_id"`
	Body      string `json:"body"`
	Official  bool   `json:"official"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type voteJSON struct {
	ID        int64  `json:"id"`
	URL       string `json:"url"`
	UserID    int64  `json:"user_id"`
	Value     int    `json:"value"`
	ItemID    int64  `json:"item_id"`
	ItemType  string `json:"item_type"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type subscriptionJSON struct {
	ID              int64  `json:"id"`
	URL             string `json:"url"`
	UserID          int64  `json:"user_id"`
	ContentID       int64  `json:"content_id"`
	ContentType     string `json:"content_type"`
	IncludeComments bool   `json:"include_comments"`
	CreatedAt       string `json:"created_at"`
	UpdatedAt       string `json:"updated_at"`
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func (s *Server) postURL(r *http.Request, id int64) string {
	return s.url(r, "/community/posts/"+itoa(id))
}

func (s *Server) postView(r *http.Request, p *mergedesk.Post) postJSON {
	return postJSON{ID: p.ID, URL: s.postURL(r, p.ID), Title: p.Title, Details: p.Details, AuthorID: p.AuthorID,
		TopicID: p.TopicID, Status: p.Status, Pinned: p.Pinned, Featured: p.Featured, Closed: p.Closed,
		VoteSum: p.VoteSum, VoteCount: p.VoteCount, CommentCount: p.CommentCount, FollowerCount: p.FollowerCount,
		CreatedAt: ts(p.CreatedAt), UpdatedAt: ts(p.UpdatedAt)}
}

func (s *Server) postCommentView(r *http.Request, c *mergedesk.PostComment) postCommentJSON {
	return postCommentJSON{ID: c.ID, URL: s.url(r, "/community/posts/"+itoa(c.PostID)+"/comments/"+itoa(c.ID)),
		PostID: c.PostID, AuthorID: c.AuthorID, Body: c.Body, CreatedAt: ts(c.CreatedAt), UpdatedAt: ts(c.UpdatedAt)}
}

// voteView uses Zendesk's vote URL, /help_center/votes/{id}.
func (s *Server) voteView(r *http.Request, v *mergedesk.Vote) voteJSON {
	return voteJSON{ID: v.ID, URL: s.url(r, "/help_center/votes/"+itoa(v.ID)), UserID: v.UserID, Value: v.Value,
		ItemID: v.PostID, ItemType: "Post", CreatedAt: ts(v.CreatedAt), UpdatedAt: ts(v.UpdatedAt)}
}

func (s *Server) subscriptionView(r *http.Request, sub *mergedesk.PostSubscription) subscriptionJSON {
	return subscriptionJSON{ID: sub.ID, URL: s.url(r, "/community/posts/"+itoa(sub.PostID)+"/subscriptions/"+itoa(sub.ID)),
		UserID: sub.UserID, ContentID: sub.PostID, ContentType: "Post", CreatedAt: ts(sub.CreatedAt), UpdatedAt: ts(sub.UpdatedAt)}
}

func mapSlice[T, J any](items []T, f func(T) J) []J {
	out := make([]J, len(items))
	for i, it := range items {
		out[i] = f(it)
	}
	return out
}

func (s *Server) helpCenterRoutes() {
	s.handle("GET /community/posts", Staff, s.listPosts)
	s.handle("POST /community/posts", Staff, s.createPost)
	s.handle("GET /community/posts/{id}", Staff, s.getPost)
	s.handle("DELETE /community/posts/{id}", Staff, s.deletePost)
	s.handle("GET /community/posts/{id}/comments", Staff, s.listPostComments)
	s.handle("POST /community/posts/{id}/comments", Staff, s.createPostComment)
	s.handle("GET /community/posts/{id}/comments/{cid}", Staff, s.getPostComment)
	s.handle("GET /community/posts/{id}/votes", Staff, s.listVotes)
	s.handle("POST /community/posts/{id}/votes", Staff, s.vote(0))
	s.handle("POST /community/posts/{id}/up", Staff, s.vote(1))
	s.handle("POST /community/posts/{id}/down", Staff, s.vote(-1))
	s.handle("GET /help_center/votes/{id}", Staff, s.getVote)
	s.handle("GET /community/posts/{id}/subscriptions", Staff, s.listSubscriptions)
	s.handle("POST /community/posts/{id}/subscriptions", Staff, s.subscribe)
	s.handle("GET /community/posts/{id}/subscriptions/{sid}", Staff, s.getSubscription)
	s.handle("GET /community/users/{id}/posts", Staff, s.listUserPosts)
	s.handle("GET /community/users/{id}/comments", Staff, s.listUserComments)
}

// onBehalfOf is the user a contribution is made for: the referenced one, else
// the caller.
func onBehalfOf(r *http.Request, ref Ref) int64 {
	if id := refPtr(ref); id != nil {
		return *id
	}
	return callerFrom(r.Context()).ID
}

func (s *Server) writePosts(w http.ResponseWriter, r *http.Request, f mergedesk.PostFilter) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ps, info, err := s.DB.Posts(r.Context(), f, p)
	if err != nil {
		return err
	}
	first, last := ends(ps, func(p *mergedesk.Post) int64 { return p.ID })
	return s.list(w, r, "posts", mapSlice(ps, func(p *mergedesk.Post) postJSON { return s.postView(r, p) }), p, info, first, last)
}

func (s *Server) writePostComments(w http.ResponseWriter, r *http.Request, f mergedesk.CommentFilter) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	cs, info, err := s.DB.PostComments(r.Context(), f, p)
	if err != nil {
		return err
	}
	first, last := ends(cs, func(c *mergedesk.PostComment) int64 { return c.ID })
	return s.list(w, r, "comments", mapSlice(cs, func(c *mergedesk.PostComment) postCommentJSON { return s.postCommentView(r, c) }),
		p, info, first, last)
}

func (s *Server) listPosts(w http.ResponseWriter, r *http.Request) error {
	return s.writePosts(w, r, mergedesk.PostFilter{})
}

func (s *Server) getPost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := s.DB.Post(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"post": s.postView(r, p)})
}

func (s *Server) createPost(w http.ResponseWriter, r *http.Request) error {
	var env struct {
		Post *struct {
			Title    string `json:"title"`
			Details  string `json:"details"`
			AuthorID Ref    `json:"author_id"`
			TopicID  Ref    `json:"topic_id"`
			Status   string `json:"status"`
			Pinned   bool   `json:"pinned"`
			Featured bool   `json:"featured"`
			Closed   bool   `json:"closed"`
		} `json:"post"`
	}
	if err := decode(r, &env); err != nil {
		return err
	}
	b := env.Post
	if b == nil {
		return mergedesk.Errorf(mergedesk.EParamMissing, "post parameter is missing")
	}
	p, err := s.DB.CreatePost(r.Context(), mergedesk.NewPost{Title: b.Title, Details: b.Details, AuthorID: onBehalfOf(r, b.AuthorID),
		TopicID: refPtr(b.TopicID), Status: b.Status, Pinned: b.Pinned, Featured: b.Featured, Closed: b.Closed})
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.postURL(r, p.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{"post": s.postView(r, p)})
}

func (s *Server) deletePost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.DB.DeletePost(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}

// postID reads the post of a nested path and checks that it exists.
func (s *Server) postID(r *http.Request) (int64, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, err
	}
	if _, err := s.DB.Post(r.Context(), id); err != nil {
		return 0, err
	}
	return id, nil
}

func (s *Server) listPostComments(w http.ResponseWriter, r *http.Request) error {
	id, err := s.postID(r)
	if err != nil {
		return err
	}
	return s.writePostComments(w, r, mergedesk.CommentFilter{PostID: &id})
}

func (s *Server) createPostComment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var env struct {
		Comment *struct {
			Body     string `json:"body"`
			AuthorID Ref    `json:"author_id"`
		} `json:"comment"`
	}
	if err := decode(r, &env); err != nil {
		return err
	}
	if env.Comment == nil {
		return mergedesk.Errorf(mergedesk.EParamMissing, "comment parameter is missing")
	}
	c, err := s.DB.CreatePostComment(r.Context(), id, onBehalfOf(r, env.Comment.AuthorID), env.Comment.Body)
	if err != nil {
		return err
	}
	v := s.postCommentView(r, c)
	w.Header().Set("Location", v.URL)
	return writeJSON(w, http.StatusCreated, map[string]any{"comment": v})
}

func (s *Server) getPostComment(w http.ResponseWriter, r *http.Request) error {
	id, cid, err := pathIDs(r, "id", "cid")
	if err != nil {
		return err
	}
	c, err := s.DB.PostComment(r.Context(), id, cid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"comment": s.postCommentView(r, c)})
}

func (s *Server) listVotes(w http.ResponseWriter, r *http.Request) error {
	id, err := s.postID(r)
	if err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	vs, info, err := s.DB.Votes(r.Context(), id, p)
	if err != nil {
		return err
	}
	first, last := ends(vs, func(v *mergedesk.Vote) int64 { return v.ID })
	return s.list(w, r, "votes", mapSlice(vs, func(v *mergedesk.Vote) voteJSON { return s.voteView(r, v) }), p, info, first, last)
}

// vote casts an up (1) or down (-1) vote; value 0 takes it from the body
// (POST …/votes [ext]). The body, and the vote in it, may be absent.
func (s *Server) vote(fixed int) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		var env struct {
			Vote struct {
				UserID Ref      `json:"user_id"`
				Value  Opt[Int] `json:"value"`
			} `json:"vote"`
		}
		if err := decode(r, &env); err != nil {
			return err
		}
		value := fixed
		if value == 0 {
			if !env.Vote.Value.Set || env.Vote.Value.Null {
				return mergedesk.Invalid("value", mergedesk.CodeBlank, "Value: cannot be blank")
			}
			v := int64(env.Vote.Value.V)
			if v != 1 && v != -1 {
				return mergedesk.Invalid("value", mergedesk.CodeInvalid, "Value: must be 1 or -1")
			}
			value = int(v)
		}
		v, err := s.DB.CastVote(r.Context(), id, onBehalfOf(r, env.Vote.UserID), value)
		if err != nil {
			return err
		}
		j := s.voteView(r, v)
		w.Header().Set("Location", j.URL)
		return writeJSON(w, http.StatusCreated, map[string]any{"vote": j})
	}
}

func (s *Server) getVote(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	v, err := s.DB.Vote(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"vote": s.voteView(r, v)})
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) error {
	id, err := s.postID(r)
	if err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ss, info, err := s.DB.PostSubscriptions(r.Context(), id, p)
	if err != nil {
		return err
	}
	first, last := ends(ss, func(sub *mergedesk.PostSubscription) int64 { return sub.ID })
	return s.list(w, r, "subscriptions", mapSlice(ss, func(sub *mergedesk.PostSubscription) subscriptionJSON { return s.subscriptionView(r, sub) }),
		p, info, first, last)
}

func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var env struct {
		Subscription struct {
			UserID Ref `json:"user_id"`
		} `json:"subscription"`
	}
	if err := decode(r, &env); err != nil {
		return err
	}
	sub, err := s.DB.Subscribe(r.Context(), id, onBehalfOf(r, env.Subscription.UserID))
	if err != nil {
		return err
	}
	j := s.subscriptionView(r, sub)
	w.Header().Set("Location", j.URL)
	return writeJSON(w, http.StatusCreated, map[string]any{"subscription": j})
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request) error {
	id, sid, err := pathIDs(r, "id", "sid")
	if err != nil {
		return err
	}
	sub, err := s.DB.PostSubscription(r.Context(), id, sid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"subscription": s.subscriptionView(r, sub)})
}

// communityUser reads the user of /community/users/{id}/…: any user that ever
// existed, so that a merged-away user's contributions stay visible (M26).
func (s *Server) communityUser(r *http.Request) (int64, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, err
	}
	if _, err := s.DB.User(r.Context(), id); err != nil {
		return 0, err
	}
	return id, nil
}

func (s *Server) listUserPosts(w http.ResponseWriter, r *http.Request) error {
	id, err := s.communityUser(r)
	if err != nil {
		return err
	}
	return s.writePosts(w, r, mergedesk.PostFilter{AuthorID: &id})
}

func (s *Server) listUserComments(w http.ResponseWriter, r *http.Request) error {
	id, err := s.communityUser(r)
	if err != nil {
		return err
	}
	return s.writePostComments(w, r, mergedesk.CommentFilter{AuthorID: &id})
}
