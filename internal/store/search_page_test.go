package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/mergedesk/mergedesk"

	"github.com/mergedesk/mergedesk/internal/search"
)

// TestSearchUserPage checks that SearchUserPage, whose exact email:/phone: path
// skips the general search, gives what SearchUsers and UsersByIDs give, for
// every window, inactive owners included.
func TestSearchUserPage(t *testing.T) {
	searchTestDB(t, func(t *testing.T, db *DB) {
		searchFixture(t, db)
		ctx := t.Context()
		// An inactive (deleted or merged) user still owning an identity.
		if err := db.Update(ctx, func(tx *Tx) error {
			_, err := tx.exec(ctx, `INSERT INTO identities (user_id, type, value, value_norm, created_at, updated_at)
				VALUES (3, 'email', 'gone@example.com', 'gone@example.com', 0, 0)`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		queries := []string{
			"email:ann@example.com", "email:ANN@EXAMPLE.COM", "email:bob@example.org", "email:dana@globex.com", "email:gone@example.com", "email:nobody@example.com",
			"email:*@example.*", "-email:ann@example.com", "email:", "email<ann@example.com", "type:user email:ann@example.com",
			"email:ann@example.com name:ann", "email:ann@example.com name:bob",
			`phone:"(415) 555-0101"`, "phone:+14155550101", "phone:4155550101", "phone:abc", "phone:5550199",
			"", "ann", "role:end-user",
		}
		windows := []struct{ limit, offset int }{{100, 0}, {1, 0}, {1, 1}, {1, 2}, {2, 3}, {0, 0}, {100, 200}}
		for _, s := range queries {
			q, err := search.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range windows {
				for _, order := range []string{"asc", "desc"} {
					users, total, err := db.SearchUserPage(ctx, q, "US", "created_at", order, w.limit, w.offset)
					if err != nil {
						t.Fatalf("SearchUserPage(%q, %v): %v", s, w, err)
					}
					ids, wantTotal, err := db.SearchUsers(ctx, q, "US", "created_at", order, w.limit, w.offset)
					if err != nil {
						t.Fatal(err)
					}
					want, err := db.UsersByIDs(ctx, ids)
					if err != nil {
						t.Fatal(err)
					}
					if total != wantTotal || !reflect.DeepEqual(users, want) {
						t.Errorf("SearchUserPage(%q, %s, limit %d, offset %d) = %v (total %d), want %v (total %d)",
							s, order, w.limit, w.offset, searchPageIDs(users), total, searchPageIDs(want), wantTotal)
					}
				}
			}
		}
	})
}

// TestSearchTotalPaging checks the total of every window: the count query is
// skipped when the page itself tells the total.
func TestSearchTotalPaging(t *testing.T) {
	searchTestDB(t, func(t *testing.T, db *DB) {
		searchFixture(t, db)
		q, _ := search.Parse("")
		all := []int64{1, 2, 4, 5}
		for limit := 0; limit <= 5; limit++ {
			for offset := 0; offset <= 6; offset++ {
				for name, run := range map[string]func(context.Context) ([]int64, int, error){
					"SearchUsers": func(ctx context.Context) ([]int64, int, error) {
						return db.SearchUsers(ctx, q, "US", "", "", limit, offset)
					},
					"SearchAll": func(ctx context.Context) ([]int64, int, error) {
						hits, total, err := db.SearchAll(ctx, q, "US", []string{search.KindUser}, "", "", limit, offset)
						var ids []int64
						for _, h := range hits {
							ids = append(ids, h.ID)
						}
						return ids, total, err
					},
				} {
					ids, total, err := run(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					var want []int64
					if limit > 0 && offset < len(all) {
						want = all[offset:min(len(all), offset+limit)]
					}
					if total != len(all) || !reflect.DeepEqual(ids, want) {
						t.Errorf("%s(limit %d, offset %d) = %v (total %d), want %v (total %d)", name, limit, offset, ids, total, want, len(all))
					}
				}
			}
		}
	})
}

func searchPageIDs(us []*mergedesk.User) []int64 {
	ids := []int64{}
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	return ids
}
