package normalize

import "github.com/learningflow/lrsbridge/sdk/xapi"

// pruneEmpty removes the empty containers some content sends — language
// maps without an entry, empty context activity and interaction component
// lists, an empty contextActivities object, an empty attachments list. They
// carry no information, and strict LRSs refuse them, so a statement from
// content is cleaned rather than refused for them.
func pruneEmpty(st *xapi.Statement) {
	if len(st.Verb.Display) == 0 {
		st.Verb.Display = nil
	}
	pruneObject(st.Object)
	pruneContext(st.Context)
	if len(st.Attachments) == 0 {
		st.Attachments = nil
	}
	if sub, ok := st.Object.(*xapi.SubStatement); ok {
		if len(sub.Verb.Display) == 0 {
			sub.Verb.Display = nil
		}
		pruneObject(sub.Object)
		pruneContext(sub.Context)
		if len(sub.Attachments) == 0 {
			sub.Attachments = nil
		}
	}
}

func pruneObject(o xapi.Object) {
	if a, ok := o.(*xapi.Activity); ok {
		pruneActivity(a)
	}
}

func pruneActivity(a *xapi.Activity) {
	d := a.Definition
	if d == nil {
		return
	}
	if len(d.Name) == 0 {
		d.Name = nil
	}
	if len(d.Description) == 0 {
		d.Description = nil
	}
	for _, list := range []*[]xapi.InteractionComponent{&d.Choices, &d.Scale, &d.Source, &d.Target, &d.Steps} {
		if len(*list) == 0 {
			*list = nil
			continue
		}
		for i := range *list {
			if len((*list)[i].Description) == 0 {
				(*list)[i].Description = nil
			}
		}
	}
}

func pruneContext(c *xapi.Context) {
	if c == nil || c.ContextActivities == nil {
		return
	}
	ca := c.ContextActivities
	for _, list := range []*[]xapi.Activity{&ca.Parent, &ca.Grouping, &ca.Category, &ca.Other} {
		if len(*list) == 0 {
			*list = nil
			continue
		}
		for i := range *list {
			pruneActivity(&(*list)[i])
		}
	}
	if ca.Parent == nil && ca.Grouping == nil && ca.Category == nil && ca.Other == nil {
		c.ContextActivities = nil
	}
}
