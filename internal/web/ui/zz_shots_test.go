package ui_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestZZShots(t *testing.T) {
	f, _, ts := setup(t)
	ctx := tab(t)
	browserLogin(t, ctx, ts)
	os.MkdirAll("/tmp/shots", 0o755)
	shot := func(name string) {
		b := run(t, ctx, "shot", chromedp.FullScreenshot(100))
		os.WriteFile("/tmp/shots/"+name+".png", b, 0o644)
	}
	do(t, ctx, "p", chromedp.Navigate(fmt.Sprintf("%s/users/%d", ts.URL, f.Ann.ID)))
	shot("profile")
	openMerge(t, ctx, ts, f.AnnDup.ID)
	do(t, ctx, "c", chromedp.SendKeys(chromedp.CSS("#merge-q"), "Ann"), chromedp.WaitVisible(chromedp.CSS(candidate(f.PhoneOnly.ID))))
	shot("candidates")
	do(t, ctx, "c", chromedp.Click(chromedp.CSS(candidate(f.Ann.ID)+" input[type=radio]")), chromedp.Click(button("Merge")), chromedp.WaitVisible(chromedp.CSS("#merge-preview")))
	shot("preview")
	do(t, ctx, "t", chromedp.Navigate(fmt.Sprintf("%s/tickets/%d", ts.URL, f.BobTkt.ID)))
	shot("ticket")
	do(t, ctx, "m", chromedp.EmulateViewport(390, 844), chromedp.Navigate(fmt.Sprintf("%s/users/%d", ts.URL, f.Ann.ID)))
	shot("phone")
}
