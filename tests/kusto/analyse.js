// Parse and analyse KQL with Microsoft's Kusto language service, against a declared workspace schema.
// stdin: {"tables": {TABLE: {COLUMN: TYPE}}, "queries": {ID: KQL}}
// stdout: {ID: [{"code", "severity", "message", "start", "length"}]} for every query, [] when clean.
"use strict";
require("@kusto/language-service/bridge.js"); // the Bridge.NET runtime the -next package runs on
require("@kusto/language-service-next/Kusto.Language.Bridge.js"); // defines the global Kusto.Language

const L = Kusto.Language;
const S = L.Symbols;
const TYPES = {
  string: S.ScalarTypes.String, datetime: S.ScalarTypes.DateTime, real: S.ScalarTypes.Real,
  long: S.ScalarTypes.Long, int: S.ScalarTypes.Int, bool: S.ScalarTypes.Bool,
  dynamic: S.ScalarTypes.Dynamic, guid: S.ScalarTypes.Guid, timespan: S.ScalarTypes.TimeSpan,
};

function globalsFor(tables) {
  const symbols = Object.entries(tables).map(([name, columns]) => {
    const cols = Object.entries(columns).map(([column, type]) => {
      if (!(type in TYPES)) throw new Error(`table ${name}, column ${column}: unknown type ${type}`);
      return new S.ColumnSymbol(column, TYPES[type]);
    });
    return new S.TableSymbol.$ctor4(name, cols);
  });
  return L.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.ctor("workspace", symbols));
}

function diagnostics(query, globals) {
  const found = L.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
  const out = [];
  for (let i = 0; i < found.Count; i++) {
    const d = found.getItem(i);
    out.push({ code: d.Code, severity: d.Severity, message: d.Message, start: d.Start, length: d.Length });
  }
  return out;
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const request = JSON.parse(input);
  const globals = globalsFor(request.tables);
  const result = {};
  for (const [id, query] of Object.entries(request.queries)) result[id] = diagnostics(query, globals);
  process.stdout.write(JSON.stringify(result));
});
