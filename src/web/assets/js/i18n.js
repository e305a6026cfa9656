// Labels in Chinese (the default) and English; the choice is remembered in localStorage.
// Server data is never translated here, only the console's own words and the API's enum names.

const LANG_KEY = 'haulwatch.lang';
const listeners = new Set();

const zh = {
  app_title: '渣土车监管平台',
  nav_live: '实时监控', nav_replay: '轨迹回放', nav_cases: '案件', nav_company: '企业',
  nav_stats: '统计', logout: '退出', lang_toggle: 'English',
  login_title: '登录', username: '用户名', password: '密码', login_submit: '登录',
  login_failed: '登录失败', login_rate_limited: '尝试次数过多，请稍后再试',
  login_bad_credentials: '用户名或密码错误', loading: '加载中…', error: '出错了',
  network_error: '无法连接服务器', not_found: '未找到', forbidden: '无权访问',
  beijing_time: '北京时间', save: '保存', cancel: '取消', submit: '提交', search: '查询',
  all: '全部', none: '无', more: '加载更多', yes: '是', no: '否', close: '关闭',
  // live map
  trucks_shown: '显示车辆', live_connected: '实时连接正常', live_connecting: '正在连接…',
  live_reconnecting: '连接断开，{s} 秒后重连', filter_company: '企业', filter_state: '状态',
  violation_feed: '违规动态', no_violations: '暂无违规', legend: '图例',
  plate: '车牌', company: '企业', speed: '速度', load: '载重状态', permit: '核准证',
  last_fix: '最后定位', heading: '方向', lift: '举升', lid: '厢盖', weight: '载重',
  lid_open: '打开', lid_closed: '关闭', lift_up: '举升', lift_down: '放下', unknown: '未知',
  kmh: '公里/小时', replay_this: '轨迹回放', cases_of_vehicle: '相关案件', state: '状态',
  vehicle: '车辆', time: '时间', kind: '类型', severity: '严重程度', location: '位置',
  layer_sites: '工地', layer_disposal: '消纳场', layer_routes: '运输路线', layer_zones: '管控区域',
  layer_trucks: '车辆', base_map: '底图', no_base_map: '无底图（离线）',
  // replay
  replay_vehicle: '车辆编号', replay_from: '开始时间', replay_to: '结束时间', replay_load: '回放',
  replay_play: '播放', replay_pause: '暂停', replay_points: '轨迹点数', replay_empty: '该时段没有轨迹',
  replay_speed_x: '倍速',
  // cases
  cases_title: '案件列表', case_number: '案号', case_kind: '案由', case_status: '状态',
  case_source: '来源', opened_at: '创建时间', overdue: '超期', due_soon: '即将到期',
  overdue_only: '仅超期', deadlines: '期限', officers: '执法人员', new_case: '新建案件',
  description: '情况描述', lat: '纬度', lon: '经度', create: '创建', pick_on_map: '在地图上点选位置',
  tracking_no: '查询码', case_detail: '案件详情', violations: '违规记录', evidence: '证据',
  audit_events: '审计记录', actions: '办理操作', documents: '执法文书', evidence_track: '证据轨迹',
  upload_evidence: '上传证据', upload: '上传', file: '文件', evidence_kind: '证据类型',
  uploaded_by: '上传人', uploaded_at: '上传时间', size: '大小', sha256: 'SHA-256',
  seq: '序号', actor: '操作人', action: '动作', before: '之前', after: '之后', hash: '哈希',
  note: '办理意见', legal_basis: '法律依据', penalty_yuan: '罚款（元）', no_penalty: '不予处罚',
  transition_done: '已办理：{to}', started_at: '开始', ended_at: '结束', open: '进行中',
  closed: '已结束', due: '到期', paused: '已暂停', no_actions: '当前无可办理操作',
  assign: '指派', officer_ids: '执法人员', reason: '理由', download: '下载', print: '打印',
  back_to_list: '返回列表', no_cases: '没有符合条件的案件', no_track: '该时段没有轨迹',
  // company
  company_title: '企业合规', fleet: '车队', compliance: '合规情况', compliance_rate: '合规率',
  trips: '趟次', vehicles_count: '车辆数', violations_count: '违规数', export_csv: '导出 CSV',
  violations_by_kind: '按类型违规', compliance_over_time: '每日合规', active_vehicles: '在线车辆',
  choose_company: '选择企业', period_from: '从', period_to: '至', per_vehicle: '单车情况',
  recent_violations: '近期违规', company_cases: '企业案件',
  // stats
  stats_title: '统计分析', by_kind: '按违规类型', by_day: '按日期', by_company: '按企业',
  by_district: '按区域', cases_by_status: '按案件状态', mean_hours_to_close: '平均结案时长（小时）',
  hotspots: '违规热点', cell_m: '网格（米）', count: '数量',
};

const en = {
  app_title: 'Muck-truck monitoring',
  nav_live: 'Live map', nav_replay: 'Track replay', nav_cases: 'Cases', nav_company: 'Company',
  nav_stats: 'Statistics', logout: 'Log out', lang_toggle: '中文',
  login_title: 'Log in', username: 'User name', password: 'Password', login_submit: 'Log in',
  login_failed: 'Login failed', login_rate_limited: 'Too many attempts; try again later',
  login_bad_credentials: 'Wrong user name or password', loading: 'Loading…', error: 'Error',
  network_error: 'Cannot reach the server', not_found: 'Not found', forbidden: 'Not allowed',
  beijing_time: 'Beijing time', save: 'Save', cancel: 'Cancel', submit: 'Submit', search: 'Search',
  all: 'All', none: 'None', more: 'Load more', yes: 'Yes', no: 'No', close: 'Close',
  trucks_shown: 'Trucks shown', live_connected: 'Live', live_connecting: 'Connecting…',
  live_reconnecting: 'Disconnected; retrying in {s} s', filter_company: 'Company', filter_state: 'State',
  violation_feed: 'Violations', no_violations: 'No violations yet', legend: 'Legend',
  plate: 'Plate', company: 'Company', speed: 'Speed', load: 'Load', permit: 'Permit',
  last_fix: 'Last fix', heading: 'Heading', lift: 'Tipper', lid: 'Lid', weight: 'Weight',
  lid_open: 'open', lid_closed: 'closed', lift_up: 'raised', lift_down: 'down', unknown: 'unknown',
  kmh: 'km/h', replay_this: 'Replay track', cases_of_vehicle: 'Cases', state: 'State',
  vehicle: 'Vehicle', time: 'Time', kind: 'Kind', severity: 'Severity', location: 'Location',
  layer_sites: 'Sites', layer_disposal: 'Disposal grounds', layer_routes: 'Routes', layer_zones: 'Zones',
  layer_trucks: 'Trucks', base_map: 'Base map', no_base_map: 'No base map (offline)',
  replay_vehicle: 'Vehicle id', replay_from: 'From', replay_to: 'To', replay_load: 'Replay',
  replay_play: 'Play', replay_pause: 'Pause', replay_points: 'Points', replay_empty: 'No track in this period',
  replay_speed_x: 'Speed',
  cases_title: 'Cases', case_number: 'Number', case_kind: 'Kind', case_status: 'Status',
  case_source: 'Source', opened_at: 'Opened', overdue: 'Overdue', due_soon: 'Due soon',
  overdue_only: 'Overdue only', deadlines: 'Deadlines', officers: 'Officers', new_case: 'New case',
  description: 'Description', lat: 'Latitude', lon: 'Longitude', create: 'Create', pick_on_map: 'Click the map to set the place',
  tracking_no: 'Tracking no.', case_detail: 'Case', violations: 'Violations', evidence: 'Evidence',
  audit_events: 'Audit trail', actions: 'Actions', documents: 'Documents', evidence_track: 'Evidence track',
  upload_evidence: 'Upload evidence', upload: 'Upload', file: 'File', evidence_kind: 'Kind',
  uploaded_by: 'Uploaded by', uploaded_at: 'Uploaded at', size: 'Size', sha256: 'SHA-256',
  seq: 'Seq', actor: 'Actor', action: 'Action', before: 'Before', after: 'After', hash: 'Hash',
  note: 'Note', legal_basis: 'Legal basis', penalty_yuan: 'Fine (yuan)', no_penalty: 'No penalty',
  transition_done: 'Done: {to}', started_at: 'Started', ended_at: 'Ended', open: 'open',
  closed: 'closed', due: 'Due', paused: 'paused', no_actions: 'No action available now',
  assign: 'Assign', officer_ids: 'Officers', reason: 'Reason', download: 'Download', print: 'Print',
  back_to_list: 'Back to the list', no_cases: 'No cases match', no_track: 'No track in this period',
  company_title: 'Company compliance', fleet: 'Fleet', compliance: 'Compliance', compliance_rate: 'Compliance rate',
  trips: 'Trips', vehicles_count: 'Vehicles', violations_count: 'Violations', export_csv: 'Export CSV',
  violations_by_kind: 'Violations by kind', compliance_over_time: 'Daily compliance', active_vehicles: 'Active vehicles',
  choose_company: 'Company', period_from: 'From', period_to: 'To', per_vehicle: 'Per vehicle',
  recent_violations: 'Recent violations', company_cases: 'Cases',
  stats_title: 'Statistics', by_kind: 'By kind', by_day: 'By day', by_company: 'By company',
  by_district: 'By district', cases_by_status: 'Cases by status', mean_hours_to_close: 'Mean hours to close',
  hotspots: 'Hot spots', cell_m: 'Cell (m)', count: 'Count',
};

// The API's enum names (src/model, docs/api.md) and their labels.
const enums = {
  violation_kind: {
    route_deviation: ['未按规定路线行驶', 'Route deviation'],
    time_window: ['未按规定时间运输', 'Outside allowed hours'],
    restricted_zone: ['闯入禁区', 'Restricted zone'],
    speeding: ['超速行驶', 'Speeding'],
    illegal_dumping: ['乱倒乱卸', 'Illegal dumping'],
    lid_open: ['未密闭运输', 'Lid open'],
    no_permit: ['无证运输', 'No permit'],
    unpermitted_site: ['违规进出工地/消纳场', 'Unpermitted site'],
    overload: ['超载运输', 'Overload'],
    offline: ['终端离线', 'Terminal offline'],
    gps_tamper: ['破坏或屏蔽终端', 'GPS tampering'],
    unregistered_terminal: ['未登记车辆终端', 'Unregistered terminal'],
  },
  vehicle_state: {
    moving: ['行驶', 'Moving'], stopped: ['停车', 'Stopped'], loaded: ['重车', 'Loaded'],
    violation: ['违规', 'In violation'], offline: ['离线', 'Offline'], unknown: ['未知', 'Unknown'],
  },
  load: { unknown: ['未知', 'unknown'], empty: ['空车', 'empty'], half: ['半载', 'half'], full: ['满载', 'full'] },
  case_status: {
    clue: ['线索', 'Clue'], accepted: ['已受理', 'Accepted'], rejected: ['不予受理', 'Rejected'],
    referred: ['已移送', 'Referred'], filed: ['已立案', 'Filed'], investigating: ['调查取证', 'Investigating'],
    evidence_preserved: ['证据保存', 'Evidence preserved'], detained: ['暂扣', 'Detained'],
    pre_decision_notice: ['事先告知', 'Pre-decision notice'], statement: ['陈述申辩', 'Statement'],
    hearing_requested: ['申请听证', 'Hearing requested'], hearing_held: ['已听证', 'Hearing held'],
    legal_review: ['法制审核', 'Legal review'], collective_discussion: ['集体讨论', 'Collective discussion'],
    decided: ['已决定', 'Decided'], penalty: ['处罚决定', 'Penalty'], no_penalty: ['不予处罚', 'No penalty'],
    transfer_to_police: ['移送公安', 'Transferred to police'], served: ['已送达', 'Served'],
    paid: ['已缴款', 'Paid'], installment: ['分期缴纳', 'Installments'], overdue: ['逾期未缴', 'Overdue'],
    demand_served: ['已催告', 'Demand served'], court_application: ['申请强制执行', 'Court application'],
    closed: ['已结案', 'Closed'], archived: ['已归档', 'Archived'],
  },
  case_source: {
    auto: ['平台自动', 'Platform'], alarm: ['平台报警', 'Platform alarm'], patrol: ['巡查发现', 'Patrol'],
    citizen: ['群众举报', 'Citizen report'], camera: ['视频发现', 'Camera'], referral: ['移送', 'Referral'],
  },
  evidence_kind: { photo: ['照片', 'Photo'], video: ['视频', 'Video'], document: ['文件', 'Document'], track: ['轨迹', 'Track'] },
  document_kind: {
    filing_approval: ['立案审批表', 'Filing approval'],
    pre_decision_notice: ['行政处罚事先告知书', 'Pre-decision notice'],
    decision: ['行政处罚决定书', 'Penalty decision'],
    service_receipt: ['送达回证', 'Service receipt'],
    closing_approval: ['结案审批表', 'Closing approval'],
  },
  zone_kind: {
    restricted: ['禁行区', 'Restricted'], time_restricted: ['限时通行区', 'Time-restricted'],
    speed: ['限速区', 'Speed zone'], district: ['执法片区', 'District'],
  },
  role: {
    admin: ['管理员', 'Administrator'], dispatcher: ['指挥调度', 'Dispatcher'], officer: ['执法队员', 'Officer'],
    company: ['运输企业', 'Company'], auditor: ['审计', 'Auditor'],
  },
  deadline: {
    check_deadline: ['核查期限', 'Check'], decision_deadline: ['决定期限', 'Decision'],
    hearing_request_deadline: ['听证申请期限', 'Hearing request'], payment_deadline: ['缴款期限', 'Payment'],
    detention_deadline: ['扣押期限', 'Detention'], preservation_deadline: ['证据保存期限', 'Preservation'],
  },
};

/** The current language, 'zh' (default) or 'en'. */
export function lang() {
  return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh';
}

/** Switches language, remembers it and tells the listeners (the app re-renders). */
export function setLang(value) {
  localStorage.setItem(LANG_KEY, value === 'en' ? 'en' : 'zh');
  document.documentElement.lang = value === 'en' ? 'en' : 'zh-CN';
  for (const listener of listeners) listener();
}

/** Calls `listener` after every language change. */
export function onLangChange(listener) { listeners.add(listener); }

/** A console label; `{name}` placeholders are filled from `vars`. Unknown keys show as-is. */
export function t(key, vars) {
  const table = lang() === 'en' ? en : zh;
  let text = table[key] ?? zh[key] ?? key;
  for (const [name, value] of Object.entries(vars || {})) text = text.replace(`{${name}}`, String(value));
  return text;
}

/** The label of an API enum value (e.g. `enumLabel('violation_kind', 'speeding')`); unknown
 * values (a newer server) show their raw name rather than nothing. */
export function enumLabel(group, value) {
  if (value === null || value === undefined || value === '') return '';
  const entry = enums[group] && enums[group][value];
  if (!entry) return String(value);
  return lang() === 'en' ? entry[1] : entry[0];
}

/** The known values of an enum group, in declaration order (filters, legends). */
export function enumValues(group) {
  return Object.keys(enums[group] || {});
}

/** Both dictionaries, for the completeness test. */
export const dictionaries = { zh, en };
