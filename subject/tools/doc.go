// Package tools serves a [subject.Subject]'s capabilities as tools: each
// observation and action called by name with JSON arguments, validated
// against a JSON Schema (draft 2020-12) derived from its Go types before
// anything is called, as an AI agent's tool-calling layer or an MCP server
// calls them.
//
// [New] describes one capability from its argument and result types;
// [Standard] gives those of every [subject.Observer] and [subject.Actor]
// method; a [Dispatcher] serves what a subject's Capabilities list, plus
// the tools of a subject that is a [Provider]; [Describe] fills a
// capability table's schemas and annotations.
//
// It is a package of its own so that package subject, which every part of
// the library imports, depends on no library beyond Go's own: the schemas
// come from github.com/google/jsonschema-go.
package tools
