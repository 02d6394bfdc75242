//! The cardinality budget's table in nginx shared memory, so that all workers spend one budget and
//! a reload that keeps the budgets keeps what was admitted. The rules themselves are pure
//! (`analytics_core::budget`); this file only sizes, maps and hands out the table.

use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::AtomicU64;

use analytics_core::budget::{new_key, Budget, BudgetConfig, BudgetLayout};
use nginx_sys::{
    ngx_conf_t, ngx_int_t, ngx_shared_memory_add, ngx_shm_zone_t, ngx_slab_alloc, ngx_slab_pool_t, ngx_str_t,
};
use ngx::core::Status;
use ngx::http::HttpModule;

use crate::AnalyticsModule;

/// The zone's name; the layout's fingerprint is appended, so that a reload which changes the
/// budgets, the domains or the campaign parameters gets a zone of its own instead of reusing (and
/// wiping) the one the old workers still use.
const ZONE_NAME: &str = "ngx_http_analytics_budget";
/// Room for the slab allocator's header and page descriptors around the table.
const SLAB_OVERHEAD: usize = 64 * 1024;

/// `analytics_budget`, and what the configuration derives from it.
pub struct BudgetConf {
    /// `None`: `analytics_budget off`.
    pub config: Option<BudgetConfig>,
    /// Every host of every `analytics_domains`, in the order they were first listed: a domain's
    /// position is its budget's index.
    pub domains: Vec<String>,
    /// Every campaign parameter any location keeps: one budget each.
    pub campaign_params: Vec<String>,
    /// Every `analytics_tag` name any location writes: one budget each.
    pub site_tags: Vec<String>,
    /// Built when the whole configuration has been read.
    pub layout: Option<BudgetLayout>,
    pub domain_index: HashMap<String, usize>,
    zone: *mut ngx_shm_zone_t,
}

impl Default for BudgetConf {
    fn default() -> Self {
        BudgetConf {
            config: Some(BudgetConfig::default()),
            domains: Vec::new(),
            campaign_params: Vec::new(),
            site_tags: Vec::new(),
            layout: None,
            domain_index: HashMap::new(),
            zone: ptr::null_mut(),
        }
    }
}

impl BudgetConf {
    pub fn add_domain(&mut self, host: &str) {
        if !self.domains.iter().any(|d| d == host) {
            self.domains.push(host.to_owned());
        }
    }

    pub fn add_campaign_param(&mut self, name: &str) {
        if !self.campaign_params.iter().any(|p| p == name) {
            self.campaign_params.push(name.to_owned());
        }
    }

    pub fn add_site_tag(&mut self, name: &str) {
        if !self.site_tags.iter().any(|t| t == name) {
            self.site_tags.push(name.to_owned());
        }
    }

    /// Sizes the table for the domains and parameters now known, and asks nginx for the zone.
    ///
    /// # Safety
    /// `cf` must be the configuration being parsed, and `self` must live as long as its cycle.
    pub unsafe fn add_zone(&mut self, cf: *mut ngx_conf_t) -> Result<(), String> {
        let Some(config) = &self.config else {
            return Ok(());
        };
        let layout =
            BudgetLayout::with_site_tags(config, self.domains.len(), &self.campaign_params, &self.site_tags)?;
        self.domain_index = self
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| (d.clone(), i))
            .collect();
        let size = layout
            .bytes()
            .saturating_add(layout.bytes() / 64)
            .saturating_add(SLAB_OVERHEAD);
        let name_text = format!("{ZONE_NAME}_{:016x}", self.fingerprint(&layout));
        let layout = self.layout.insert(layout);
        // SAFETY (caller): `cf->pool` lives as long as the cycle, which keeps the name.
        let mut name =
            unsafe { ngx_str_t::from_bytes((*cf).pool, name_text.as_bytes()) }.ok_or("out of memory")?;
        let tag = ptr::from_ref(AnalyticsModule::module())
            .cast_mut()
            .cast::<c_void>();
        // SAFETY (caller): `cf` is valid; nginx copies the name into its own pool.
        let zone = unsafe { ngx_shared_memory_add(cf, &mut name, size, tag) };
        // SAFETY: ngx_shared_memory_add returns null or a valid zone of the cycle.
        let zone_ref = unsafe { zone.as_mut() }.ok_or("cannot add the budget's shared memory zone")?;
        zone_ref.init = Some(init_zone);
        // Until nginx initialises the zone, `data` is the layout; afterwards, the table.
        zone_ref.data = ptr::from_mut(layout).cast();
        self.zone = zone;
        Ok(())
    }

    /// Everything the table's meaning depends on, in order: a domain's index is its place in the
    /// list, a campaign parameter's likewise.
    fn fingerprint(&self, layout: &BudgetLayout) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}", layout.config()).hash(&mut hasher);
        layout.words().hash(&mut hasher);
        self.domains.hash(&mut hasher);
        self.campaign_params.hash(&mut hasher);
        self.site_tags.hash(&mut hasher);
        hasher.finish()
    }

    /// The budget, in a worker (after nginx initialised the zone).
    pub fn budget(&self) -> Option<Budget<'static>> {
        let layout = self.layout.as_ref()?;
        // SAFETY: a non-null zone was added by add_zone and initialised by nginx before workers
        // start; its mapping lives as long as the worker.
        let words = unsafe { table(self.zone.as_ref()?, layout) }?;
        // SAFETY: the layout lives in the configuration, which outlives every request of the
        // worker's cycle; the 'static only spares the worker a lifetime parameter.
        let layout: &'static BudgetLayout = unsafe { &*ptr::from_ref(layout) };
        Budget::new(layout, words).ok()
    }
}

/// The zone's table as the layout's words.
///
/// # Safety
/// `zone` must be the budget zone, initialised by `init_zone` for `layout`.
unsafe fn table(zone: &ngx_shm_zone_t, layout: &BudgetLayout) -> Option<&'static [AtomicU64]> {
    let words = zone.data.cast::<AtomicU64>();
    if words.is_null() {
        return None;
    }
    // SAFETY (caller): `data` points to `layout.words()` words allocated from the zone's slab
    // pool, which stays mapped as long as the process; they are only accessed through atomics.
    Some(unsafe { std::slice::from_raw_parts(words, layout.words()) })
}

/// nginx's zone init callback: keep the table of the previous configuration when nginx reuses its
/// memory (same size) and its layout is the same (a reload that changed nothing of the budgets);
/// otherwise start an empty one.
extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, previous: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls this with the zone it mapped, before any worker of this configuration
    // runs; `data` is still the layout set by add_zone, which lives in the configuration.
    let (zone, layout) = unsafe { (&mut *zone, &*(*zone).data.cast::<BudgetLayout>()) };
    let words = if previous.is_null() {
        let pool = zone.shm.addr.cast::<ngx_slab_pool_t>();
        // SAFETY: a fresh zone's memory starts with the slab pool nginx set up; allocating from it
        // in the master, before workers exist, needs no lock. Large allocations are page-aligned.
        unsafe { ngx_slab_alloc(pool, layout.bytes()) }
    } else {
        // The same memory as before: `previous` is the table this callback stored last time.
        previous
    };
    if words.is_null() {
        return Status::NGX_ERROR.into();
    }
    zone.data = words;
    // SAFETY: `data` now points to a table of at least `layout.bytes()`: allocated above, or by
    // the previous configuration for a zone of the same size, and so for the same layout size or
    // one that `is_initialised` refuses below.
    let Some(words) = (unsafe { table(zone, layout) }) else {
        return Status::NGX_ERROR.into();
    };
    if layout.is_initialised(words) {
        return Status::NGX_OK.into();
    }
    match layout.initialise(words, new_key()) {
        Ok(()) => Status::NGX_OK.into(),
        Err(_) => Status::NGX_ERROR.into(),
    }
}
