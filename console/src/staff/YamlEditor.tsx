/**
 * CodeMirror for profile YAML: line numbers, YAML highlighting, and the API's validation issues
 * shown at their line (a gutter marker and an underline). The page owns the text and the
 * issues; this only displays them and reports edits. Read-only for published versions.
 */
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { MergeView } from '@codemirror/merge';
import { Compartment, EditorState, type Extension } from '@codemirror/state';
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from '@codemirror/view';
import { forwardRef, useEffect, useImperativeHandle, useRef } from 'react';

export interface EditorIssue {
  line: number;
  column: number;
  field: string;
  message: string;
}

export interface YamlEditorHandle {
  /** Moves the cursor to a line and scrolls it into view. */
  goToLine(line: number, column?: number): void;
}

const theme = EditorView.theme({
  '&': { backgroundColor: '#ffffff' },
  '.cm-gutters': { backgroundColor: '#f7f9fa', borderRight: '1px solid #e3e8ec', color: '#5d6b78' },
  '.cm-activeLine': { backgroundColor: '#f3f8f7' },
  '.cm-activeLineGutter': { backgroundColor: '#e3f2f0' },
  '.cm-content': { fontFamily: 'ui-monospace, Menlo, Consolas, monospace' },
});

const baseExtensions = (): Extension[] => [
  lineNumbers(),
  highlightActiveLineGutter(),
  highlightActiveLine(),
  drawSelection(),
  history(),
  keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
  yaml(),
  syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
  EditorView.lineWrapping,
  theme,
];

function toDiagnostics(state: EditorState, issues: readonly EditorIssue[]): Diagnostic[] {
  return issues.map((i) => {
    const line = state.doc.line(Math.min(Math.max(1, i.line), state.doc.lines));
    const from = line.from + Math.min(Math.max(0, i.column - 1), line.length);
    return {
      from,
      to: Math.max(from, line.to),
      severity: 'error',
      message: i.field ? `${i.field}: ${i.message}` : i.message,
    };
  });
}

interface YamlEditorProps {
  value: string;
  onChange?: (text: string) => void;
  readOnly?: boolean;
  issues?: readonly EditorIssue[];
  label: string;
}

export const YamlEditor = forwardRef<YamlEditorHandle, YamlEditorProps>(function YamlEditor(
  { value, onChange, readOnly = false, issues = [], label },
  ref,
) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const editable = useRef(new Compartment());

  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          ...baseExtensions(),
          lintGutter(),
          editable.current.of([
            EditorState.readOnly.of(readOnly),
            EditorView.editable.of(!readOnly),
          ]),
          EditorView.contentAttributes.of({ 'aria-label': label }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) onChangeRef.current?.(u.state.doc.toString());
          }),
        ],
      }),
    });
    // A keyboard user can reach the scrolling area (and scroll a read-only version) with Tab.
    v.scrollDOM.tabIndex = 0;
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // The view is made once; value, readOnly and issues are pushed in by the effects below.
  }, []);

  // Text set from outside (the form, a new draft): one minimal change, so the cursor stays put.
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const current = v.state.doc.toString();
    if (current === value) return;
    let start = 0;
    while (start < current.length && start < value.length && current[start] === value[start])
      start++;
    let endA = current.length;
    let endB = value.length;
    while (endA > start && endB > start && current[endA - 1] === value[endB - 1]) {
      endA--;
      endB--;
    }
    v.dispatch({ changes: { from: start, to: endA, insert: value.slice(start, endB) } });
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({
      effects: editable.current.reconfigure([
        EditorState.readOnly.of(readOnly),
        EditorView.editable.of(!readOnly),
      ]),
    });
  }, [readOnly]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    v.dispatch(setDiagnostics(v.state, toDiagnostics(v.state, issues)));
  }, [issues, value]);

  useImperativeHandle(ref, () => ({
    goToLine(line, column = 1) {
      const v = view.current;
      if (!v) return;
      const l = v.state.doc.line(Math.min(Math.max(1, line), v.state.doc.lines));
      const pos = l.from + Math.min(Math.max(0, column - 1), l.length);
      v.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      v.focus();
    },
  }));

  return (
    <div
      className={`editor-wrap${readOnly ? ' readonly' : ''}`}
      data-testid="yaml-editor"
      ref={host}
    />
  );
});

/** Two versions side by side, changes highlighted (both sides read-only). */
export function YamlDiff({ before, after }: { before: string; after: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current) return;
    const ro = [EditorState.readOnly.of(true), EditorView.editable.of(false)];
    const mv = new MergeView({
      parent: host.current,
      a: { doc: before, extensions: [...baseExtensions(), ...ro] },
      b: { doc: after, extensions: [...baseExtensions(), ...ro] },
      collapseUnchanged: { margin: 3, minSize: 6 },
      gutter: true,
    });
    return () => mv.destroy();
  }, [before, after]);
  return <div className="editor-wrap merge-wrap" data-testid="yaml-diff" ref={host} />;
}
