-- Publisher binding ids come from one sequence shared by bindings and pending bindings
-- (issue 12). Both kinds are listed to users side by side by id; with a sequence per
-- table, a pending binding deleted by the first publish freed an id that the next
-- active binding then received. AUTOINCREMENT never hands out an id twice.
CREATE TABLE binding_ids (id INTEGER PRIMARY KEY AUTOINCREMENT);
-- Every id already shown stays spent.
INSERT OR IGNORE INTO binding_ids (id) SELECT id FROM bindings;
INSERT OR IGNORE INTO binding_ids (id) SELECT id FROM pending_bindings;
