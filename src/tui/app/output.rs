//! The output panes' part of the reducer: focus among them, scrolling, search, copy, split and
//! close, and the lines read back from their logs (see [`crate::tui::output_pane`]).

use super::Effect;
use crate::tui::action::Action;
use crate::tui::layout::{Focus, output_pane_rects};
use crate::tui::output_pane::{
    BackWindow, COPY_CAP, MAX_PANES, Needle, OutputPane, PaneId, RingLine, Search, visible_text,
};
use crate::tui::state::UiState;

/// `deploy/eu-1` for the selected stage and target.
fn selection_label(ui: &UiState) -> String {
    match ui.release.stages.get(ui.stage) {
        Some(s) => match s.targets.get(ui.target).and_then(|t| t.target.as_deref()) {
            Some(t) => format!("{}/{t}", s.decl.id),
            None => s.decl.id.clone(),
        },
        None => String::new(),
    }
}

impl UiState {
    fn pane_at_mut(&mut self, i: usize) -> &mut OutputPane {
        match i {
            0 => &mut self.output,
            i if i <= self.pinned.len() => &mut self.pinned[i - 1],
            _ => &mut self.output,
        }
    }

    fn pane_index(&self, id: PaneId) -> Option<usize> {
        self.panes().position(|p| p.id == id)
    }

    /// Tab / Shift-Tab through the output panes: `true` when the step stayed among them (or
    /// entered them at the near end).
    pub(crate) fn output_focus_step(&mut self, forward: bool) -> bool {
        if self.focus != Focus::Output {
            return false;
        }
        let n = self.pane_count();
        if forward && self.pane + 1 < n {
            self.pane += 1;
            return true;
        }
        if !forward && self.pane > 0 {
            self.pane -= 1;
            return true;
        }
        if self.zoom {
            // Only the output is on screen: cycle among its panes.
            self.pane = if forward { 0 } else { n - 1 };
            return true;
        }
        false
    }

    /// The focus arrived at the output from another pane.
    pub(crate) fn output_focus_entered(&mut self, forward: bool) {
        self.pane = if forward { 0 } else { self.pane_count() - 1 };
    }

    /// The output actions (see [`Action`]); `false` for any other action.
    pub(crate) fn output_act(&mut self, action: Action, fx: &mut Vec<Effect>) -> bool {
        let i = self.pane.min(self.pane_count() - 1);
        self.pane = i;
        let h = self.pane_height(i);
        // A page is the pane's height, less one line kept for context.
        let page = h.saturating_sub(1).max(1);
        match action {
            Action::Follow => self.pane_at_mut(i).follow_end(),
            Action::Up => self.pane_at_mut(i).scroll_up(1, h),
            Action::Down => self.pane_at_mut(i).scroll_down(1),
            Action::Top => self.pane_at_mut(i).scroll_up(usize::MAX / 2, h),
            Action::PageUp => self.pane_at_mut(i).scroll_up(page, h),
            Action::PageDown => self.pane_at_mut(i).scroll_down(page),
            Action::Wrap => {
                let p = self.pane_at_mut(i);
                p.wrap = !p.wrap;
                let h = self.pane_height(i);
                let p = self.pane_at_mut(i);
                p.scroll = p.scroll.min(p.max_scroll(h));
            }
            Action::Timestamps => {
                let p = self.pane_at_mut(i);
                p.timestamps = !p.timestamps;
            }
            Action::SearchNext | Action::SearchPrev => self.search_step(i, action == Action::SearchNext, h),
            Action::Copy => self.copy(i, fx),
            Action::Pager => match self.pane_at(i).log.clone() {
                Some(log) => fx.push(Effect::Pager(log)),
                None => self.say("no output to page: the selected run has not started", true),
            },
            Action::SplitPane => self.split(fx),
            Action::ClosePane => self.close_pane(i, fx),
            Action::Zoom => {
                self.zoom = !self.zoom;
                self.focus = Focus::Output;
            }
            _ => return false,
        }
        true
    }

    /// The output pane at cell (`x`, `y`), if any.
    pub(crate) fn output_pane_at(&self, x: u16, y: u16) -> Option<usize> {
        let area = ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1);
        output_pane_rects(area, self.arrange())
            .iter()
            .position(|r| r.contains(ratatui::layout::Position::new(x, y)))
    }

    /// The wheel over the output: the pane under the pointer scrolls `lines`.
    pub(crate) fn output_wheel(&mut self, x: u16, y: u16, up: bool, lines: usize) {
        let i = self.output_pane_at(x, y).unwrap_or(self.pane);
        let h = self.pane_height(i);
        let p = self.pane_at_mut(i);
        if up {
            p.scroll_up(lines, h);
        } else {
            p.scroll_down(lines);
        }
    }

    /// Esc in the output: clear the search, else leave the zoom. `false`: nothing to back out of.
    pub(crate) fn output_back(&mut self, fx: &mut Vec<Effect>) -> bool {
        if self.focus != Focus::Output {
            return false;
        }
        let i = self.pane;
        let p = self.pane_at_mut(i);
        if p.search.take().is_some() {
            fx.push(Effect::StopSearch(p.id));
            return true;
        }
        if self.zoom {
            self.zoom = false;
            return true;
        }
        false
    }

    /// `/` + Enter: search pane `self.pane`'s whole log for `term` (empty: clear the search).
    pub(crate) fn start_search(&mut self, term: String, fx: &mut Vec<Effect>) {
        let i = self.pane.min(self.pane_count() - 1);
        self.focus = Focus::Output;
        self.search_gen += 1;
        let generation = self.search_gen;
        let p = self.pane_at_mut(i);
        if term.is_empty() {
            if p.search.take().is_some() {
                fx.push(Effect::StopSearch(p.id));
            }
            return;
        }
        let Some(log) = p.log.clone() else {
            self.say("no output to search: the selected run has not started", true);
            return;
        };
        let upto = p.total;
        p.search = Some(Search {
            needle: Needle::new(&term),
            term: term.clone(),
            generation,
            upto,
            done: false,
            searched: 0,
            matches: Vec::new(),
            capped: false,
            current: None,
            error: None,
        });
        fx.push(Effect::Search {
            pane: p.id,
            log,
            term,
            generation,
            upto,
        });
    }

    /// The background search answered: its matches go before those found since.
    pub(crate) fn search_done(
        &mut self,
        pane: PaneId,
        generation: u64,
        result: Result<(Vec<u64>, bool), String>,
    ) {
        let Some(i) = self.pane_index(pane) else { return };
        let h = self.pane_height(i);
        let p = self.pane_at_mut(i);
        let Some(s) = p
            .search
            .as_mut()
            .filter(|s| s.generation == generation && !s.done)
        else {
            return;
        };
        s.done = true;
        s.searched = s.upto;
        match result {
            Ok((found, capped)) => {
                s.add_found(found);
                s.capped |= capped;
            }
            Err(e) => s.error = Some(e),
        }
        // Unless `n`/`N` already chose one: show the match nearest above the bottom of the view
        // (the latest output is where a person usually looks), else the first one below it.
        let bottom = p.bottom().unwrap_or(0);
        let s = p.search.as_mut().expect("checked");
        if s.matches.is_empty() || s.current.is_some() {
            return;
        }
        let at = s.matches.partition_point(|&m| m <= bottom);
        let pick = if at > 0 { at - 1 } else { 0 };
        s.current = Some(pick);
        let line = s.matches[pick];
        p.show_line(line, h);
    }

    /// [`super::app::Msg::SearchFound`]: the background search's progress.
    pub(crate) fn search_found(&mut self, pane: PaneId, generation: u64, found: Vec<u64>, searched: u64) {
        let Some(s) = self
            .pane_mut(pane)
            .and_then(|p| p.search.as_mut())
            .filter(|s| s.generation == generation && !s.done)
        else {
            return;
        };
        s.add_found(found);
        s.searched = searched;
    }

    fn search_step(&mut self, i: usize, next: bool, h: usize) {
        let p = self.pane_at_mut(i);
        let bottom = p.bottom().unwrap_or(0);
        let Some(s) = p.search.as_mut() else { return };
        let n = s.matches.len();
        if n == 0 {
            let msg = if s.done {
                format!("no match for /{}", s.term)
            } else {
                format!("searching for /{}…", s.term)
            };
            let done = s.done;
            self.say(msg, done);
            return;
        }
        let (pick, wrapped) = match s.current {
            Some(c) if next => ((c + 1) % n, c + 1 == n),
            Some(c) => ((c + n - 1) % n, c == 0),
            None => {
                let at = s.matches.partition_point(|&m| m <= bottom);
                if next {
                    (at % n, at == n)
                } else if at > 0 {
                    (at - 1, false)
                } else {
                    (n - 1, true)
                }
            }
        };
        s.current = Some(pick);
        let line = s.matches[pick];
        p.show_line(line, h);
        if wrapped {
            let end = if next { "top" } else { "bottom" };
            self.say(format!("search wrapped to the {end}"), false);
        }
    }

    fn copy(&mut self, i: usize, fx: &mut Vec<Effect>) {
        let p = self.pane_at(i);
        let Some(n) = p.current_line() else {
            self.say("nothing to copy: no output yet", true);
            return;
        };
        let Some(line) = p.line(n) else {
            self.say(format!("line {} is still being read; try again", n + 1), true);
            return;
        };
        let Some(text) = visible_text(&line.text) else {
            self.say(format!("line {} is binary output: not copied", n + 1), true);
            return;
        };
        let mut text = text.into_owned();
        let cut = text.len() > COPY_CAP;
        if cut {
            let mut end = COPY_CAP;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        let chars = text.chars().count();
        fx.push(Effect::Copy(text));
        let cut = if cut { ", cut" } else { "" };
        self.say(
            format!("copied line {} ({chars} chars{cut}) to the clipboard", n + 1),
            false,
        );
    }

    fn split(&mut self, fx: &mut Vec<Effect>) {
        if self.pane_count() >= MAX_PANES {
            self.say(format!("at most {MAX_PANES} output panes: x closes one"), true);
            return;
        }
        let Some(log) = self.selected_log() else {
            self.say("the selected stage has no output yet", true);
            return;
        };
        self.next_pane += 1;
        let pane = OutputPane {
            id: self.next_pane,
            log: Some(log.clone()),
            label: selection_label(self),
            ..OutputPane::default()
        };
        fx.push(Effect::FollowLog {
            pane: pane.id,
            log: Some(log),
        });
        self.pinned.push(pane);
        self.focus = Focus::Output;
        self.pane = self.pane_count() - 1;
    }

    fn close_pane(&mut self, i: usize, fx: &mut Vec<Effect>) {
        if i == 0 {
            let msg = if self.pinned.is_empty() {
                "the output pane of the selection stays; + adds panes"
            } else {
                "the first pane follows the selection and stays: Tab to an added pane, then x"
            };
            self.say(msg, true);
            return;
        }
        let p = self.pinned.remove(i - 1);
        fx.push(Effect::FollowLog {
            pane: p.id,
            log: None,
        });
        self.pane = (i - 1).min(self.pane_count() - 1);
    }

    /// After each update: ask for the old lines each pane's view needs.
    pub(crate) fn output_fetch(&mut self, fx: &mut Vec<Effect>) {
        for i in 0..self.pane_count() {
            let h = self.pane_height(i);
            let p = self.pane_at_mut(i);
            if let (Some(r), Some(log)) = (p.wanted(h), p.log.clone()) {
                p.reading = Some(r.clone());
                fx.push(Effect::ReadLines {
                    pane: p.id,
                    log,
                    first: r.start,
                    count: r.end - r.start,
                });
            }
        }
    }

    /// [`super::app::Msg::OutputGrew`].
    pub(crate) fn output_grew(&mut self, pane: PaneId, log: &str, lines: u64) {
        let Some(i) = self.pane_index(pane) else { return };
        let h = self.pane_height(i);
        let p = self.pane_at_mut(i);
        if p.log.as_deref() == Some(log) {
            p.grew(lines, h);
        }
    }

    /// [`super::app::Msg::LinesRead`].
    pub(crate) fn lines_read(
        &mut self,
        pane: PaneId,
        log: &str,
        first: u64,
        lines: Result<Vec<RingLine>, String>,
    ) {
        let Some(p) = self.pane_mut(pane) else { return };
        // Only the answer to the pane's own request (not one for an earlier log or position).
        if p.log.as_deref() != Some(log) || p.reading.as_ref().is_none_or(|r| r.start != first) {
            return;
        }
        match lines {
            Ok(lines) => {
                p.reading = None;
                p.back = BackWindow { first, lines };
            }
            // `reading` stays: not asked again until the view moves elsewhere.
            Err(e) => self.problem = Some(format!("log: {e}")),
        }
    }
}
