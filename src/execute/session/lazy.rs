//! One schema of the warehouse as a DataFusion schema provider whose tables and catalog
//! views are registered on first use, split from `session.rs`: opening a session lists
//! table folders only, and a statement lists (and reads the footers of) just the tables
//! it reads.
//!
//! A table folder becomes a table ([`super::provider::listed`]) the first time a
//! statement names it, and stays one for the session; a catalog view is planned the first
//! time a statement names it. Tables registered explicitly (`register_table`: a shadow,
//! a view a statement defines, an in-memory table) override both.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::prelude::DataFrame;
use tokio::sync::OnceCell;

use super::provider::listed;
use crate::error::passed_through;
use crate::spec::TableName;
use crate::warehouse::Warehouse;

type Provider = Arc<dyn TableProvider>;

/// The session's state as it is now (`None` once the session is gone): table providers
/// infer schemas and views plan in it.
pub(super) type CurrentState = Box<dyn Fn() -> Option<SessionState> + Send + Sync>;

tokio::task_local! {
    /// The catalog views this task is planning, outermost first: a view met again reads
    /// itself, and never plans.
    static PLANNING: Vec<String>;
}

/// A warehouse schema whose tables and views are registered on first use (see the
/// module documentation).
pub(super) struct LazySchema {
    wh: Warehouse,
    schema: String,
    /// Table folders found when the session opened.
    folders: BTreeSet<String>,
    /// Catalog views of this schema: name → SQL body.
    views: BTreeMap<String, String>,
    /// Leave a table that does not register out (with a warning) instead of failing.
    skip_unregistrable: bool,
    state: CurrentState,
    /// Tables registered explicitly; they hide folders and views of the same name.
    registered: RwLock<HashMap<String, Provider>>,
    /// Folders and views deregistered (dropped or replaced) since the session opened.
    dropped: RwLock<BTreeSet<String>>,
    /// Folders registered so far (`None`: no files, or left out); one load per folder.
    tables: Mutex<HashMap<String, Arc<OnceCell<Option<Provider>>>>>,
    /// Views planned so far (`None`: it does not plan).
    planned: Mutex<HashMap<String, Option<Provider>>>,
}

impl std::fmt::Debug for LazySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazySchema")
            .field("schema", &self.schema)
            .field("folders", &self.folders)
            .field("views", &self.views.keys())
            .finish_non_exhaustive()
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|p| p.into_inner())
}

impl LazySchema {
    /// Schema `schema` of `wh` with the table folders `folders` and the catalog views
    /// `views` (name within the schema → SQL), planned and inferred in `state`.
    pub(super) fn new(
        wh: &Warehouse,
        schema: &str,
        folders: BTreeSet<String>,
        views: BTreeMap<String, String>,
        skip_unregistrable: bool,
        state: CurrentState,
    ) -> Self {
        Self {
            wh: wh.clone(),
            schema: schema.to_string(),
            folders,
            views,
            skip_unregistrable,
            state,
            registered: RwLock::default(),
            dropped: RwLock::default(),
            tables: Mutex::default(),
            planned: Mutex::default(),
        }
    }

    fn current_state(&self) -> Result<SessionState> {
        (self.state)().ok_or_else(|| DataFusionError::Execution("the engine session is closed".into()))
    }

    /// List folder `name` and make it a table (see [`listed`]). A table that does not
    /// register is an error of ours wrapped as `External` (the engine passes it on), or
    /// `None` with a warning when tables may be left out.
    async fn load(&self, name: &str) -> Result<Option<Provider>> {
        let table = TableName::new(&self.schema, name);
        match listed(&self.current_state()?, &self.wh, &table).await {
            Ok(provider) => Ok(provider),
            Err(e) if self.skip_unregistrable => {
                tracing::warn!("table {table} does not register ({e}); left out of this session");
                Ok(None)
            }
            Err(e) => Err(DataFusionError::External(Box::new(e))),
        }
    }

    /// Plan catalog view `name` (body `sql`). A view that does not plan (it reads a
    /// missing relation, or itself) is logged and left out; a table it reads that does
    /// not register is that table's error.
    async fn view(&self, name: &str, sql: &str) -> Result<Option<Provider>> {
        if let Some(done) = lock(&self.planned).get(name) {
            return Ok(done.clone());
        }
        let full = format!("{}.{name}", self.schema);
        let mut stack = PLANNING.try_with(Clone::clone).unwrap_or_default();
        if stack.contains(&full) {
            return Err(DataFusionError::Plan(format!("catalog view `{full}` reads itself")));
        }
        stack.push(full.clone());
        let state = self.current_state()?;
        let planned = PLANNING
            .scope(stack, async {
                let plan = state.create_logical_plan(sql).await?;
                Ok::<_, DataFusionError>(DataFrame::new(state.clone(), plan).into_view())
            })
            .await;
        let provider = match planned {
            Ok(view) => Some(view),
            Err(e) if passed_through(&e) => return Err(e),
            Err(e) => {
                tracing::warn!(view = %full, error = %e, "catalog view does not plan; not registered");
                None
            }
        };
        lock(&self.planned).insert(name.to_string(), provider.clone());
        Ok(provider)
    }

    /// What is known of lazy `name` without loading it: `Some(registered)` once loaded
    /// or planned, `None` before.
    fn known(&self, name: &str) -> Option<Option<Provider>> {
        if self.views.contains_key(name) {
            lock(&self.planned).get(name).cloned()
        } else {
            lock(&self.tables).get(name).and_then(|cell| cell.get().cloned())
        }
    }

    /// True when `name` is a folder or view of this schema that is not dropped, and not
    /// known to be left out.
    fn lazily_present(&self, name: &str) -> bool {
        if !(self.views.contains_key(name) || self.folders.contains(name)) || read(&self.dropped).contains(name) {
            return false;
        }
        self.known(name).is_none_or(|p| p.is_some())
    }
}

#[async_trait]
impl SchemaProvider for LazySchema {
    /// Registered tables, views, and table folders not known to be empty or left out;
    /// sorted. Lists nothing.
    fn table_names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = read(&self.registered).keys().cloned().collect();
        let lazy = self.views.keys().chain(&self.folders).filter(|n| self.lazily_present(n));
        names.extend(lazy.cloned());
        names.into_iter().collect()
    }

    /// The registered table `name`, else the catalog view `name` (planned on first use),
    /// else the table of folder `name` (listed and inferred on first use).
    ///
    /// Errors: a table that does not register (store or engine error, as `External`),
    /// unless the session leaves such tables out.
    async fn table(&self, name: &str) -> Result<Option<Provider>> {
        if let Some(provider) = read(&self.registered).get(name) {
            return Ok(Some(Arc::clone(provider)));
        }
        if read(&self.dropped).contains(name) {
            return Ok(None);
        }
        if let Some(sql) = self.views.get(name) {
            return self.view(name, sql).await;
        }
        if !self.folders.contains(name) {
            return Ok(None);
        }
        let cell = Arc::clone(lock(&self.tables).entry(name.to_string()).or_default());
        cell.get_or_try_init(|| self.load(name)).await.cloned()
    }

    /// Register `table` as `name`, hiding a folder or view of that name; returns the
    /// table registered under `name` before, if any.
    fn register_table(&self, name: String, table: Provider) -> Result<Option<Provider>> {
        write(&self.dropped).remove(&name);
        Ok(write(&self.registered).insert(name, table))
    }

    /// Drop `name`: the registered table, and the folder or view of that name for the
    /// rest of the session. Returns what was registered (a folder or view only when it was
    /// loaded already).
    fn deregister_table(&self, name: &str) -> Result<Option<Provider>> {
        let removed = write(&self.registered).remove(name);
        if self.views.contains_key(name) || self.folders.contains(name) {
            let loaded = self.known(name).flatten();
            write(&self.dropped).insert(name.to_string());
            return Ok(removed.or(loaded));
        }
        Ok(removed)
    }

    /// Whether `name` is registered, or a folder or view not dropped and not known to be
    /// empty or left out (a folder not loaded yet counts as a table). Lists nothing.
    fn table_exist(&self, name: &str) -> bool {
        read(&self.registered).contains_key(name) || self.lazily_present(name)
    }
}
