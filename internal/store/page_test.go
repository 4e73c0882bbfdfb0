package store

import (
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/mergedesk/mergedesk"
)

// TestPaginate walks lists keyed by id, ordered by an expression, and keyed by
// string, forwards and backwards, on both databases.
func TestPaginate(t *testing.T) {
	searchTestDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		// Initials sort in another order than ids; two share one, so the id
		// breaks the tie.
		names := []string{"delta", "alpha", "echo", "bravo", "alpha", "charlie", "foxtrot"}
		var ids []int64
		for _, n := range names {
			name := fmt.Sprintf("%s %d", n, len(ids))
			o, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, o.ID)
		}
		byName := slices.Clone(ids)
		slices.SortStableFunc(byName, func(a, b int64) int {
			na, nb := names[slices.Index(ids, a)][0], names[slices.Index(ids, b)][0]
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
			return int(a - b)
		})

		const initial = "SUBSTR(name_norm, 1, 1)"
		for _, tc := range []struct {
			name string
			l    list
			desc bool
			want []int64
		}{
			{"ID", list{from: "organizations"}, false, ids},
			{"IDDesc", list{from: "organizations"}, true, reversed(ids)},
			{"Name", list{from: "organizations", order: []string{initial}}, false, byName},
			{"NameDesc", list{from: "organizations", order: []string{initial}}, true, reversed(byName)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// Forwards, three at a time, then back from the end.
				var got []int64
				p := pageRequest[int64]{size: 3, cursor: true, desc: tc.desc}
				for {
					page, info, err := paginate(ctx, db.r(), tc.l, p, scanID)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, page...)
					if !info.HasMore {
						break
					}
					p.after = page[len(page)-1]
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("forwards: got %v, want %v", got, tc.want)
				}
				p = pageRequest[int64]{size: 3, cursor: true, desc: tc.desc, before: tc.want[len(tc.want)-1]}
				var back []int64
				for {
					page, info, err := paginate(ctx, db.r(), tc.l, p, scanID)
					if err != nil {
						t.Fatal(err)
					}
					back = append(slices.Clone(page), back...)
					if !info.HasPrev {
						break
					}
					p.before = page[0]
				}
				if want := tc.want[:len(tc.want)-1]; !slices.Equal(back, want) {
					t.Fatalf("backwards: got %v, want %v", back, want)
				}
				// Offset pages agree.
				page, info, err := paginate(ctx, db.r(), tc.l, pageRequest[int64]{size: 3, offset: 3, desc: tc.desc}, scanID)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(page, tc.want[3:6]) || info.Total != len(ids) || !info.HasMore || !info.HasPrev {
					t.Fatalf("offset: got %v %+v, want %v", page, info, tc.want[3:6])
				}
			})
		}

		t.Run("LostCursor", func(t *testing.T) {
			gone := ids[len(ids)-1] + 100
			l := list{from: "organizations", order: []string{initial}}
			page, _, err := paginate(ctx, db.r(), l, pageRequest[int64]{size: 3, cursor: true, after: gone}, scanID)
			if err != nil || len(page) != 0 {
				t.Fatalf("empty page: got %v, %v", page, err)
			}
			l.lostCursor = true
			page, _, err = paginate(ctx, db.r(), l, pageRequest[int64]{size: 3, cursor: true, before: gone}, scanID)
			// Every id is below the lost one: the page is the list's last.
			if want := byName[len(ids)-3:]; err != nil || !slices.Equal(page, want) {
				t.Fatalf("key order: got %v, %v; want %v", page, err, want)
			}
		})

		t.Run("StringKeys", func(t *testing.T) {
			l := list{cols: "name, id", from: "organizations", key: "name"}
			scan := func(rows *sql.Rows) (string, error) {
				var name string
				var id int64
				err := rows.Scan(&name, &id)
				return name, err
			}
			first, info, err := paginate(ctx, db.r(), l, pageRequest[string]{size: 4, cursor: true}, scan)
			if err != nil || len(first) != 4 || !info.HasMore || info.HasPrev {
				t.Fatalf("first page: %v %+v %v", first, info, err)
			}
			rest, info, err := paginate(ctx, db.r(), l, pageRequest[string]{size: 4, cursor: true, after: first[3]}, scan)
			if err != nil || len(rest) != 3 || info.HasMore || !info.HasPrev || rest[0] <= first[3] {
				t.Fatalf("second page: %v %+v %v", rest, info, err)
			}
		})
	})
}

func reversed(s []int64) []int64 {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
