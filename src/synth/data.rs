//! Constant tables behind the synthetic-data generator: names, places with their real
//! GB/T 2260 district codes, channels and other vocabularies. Weights are relative
//! integers chosen to look like a real agency's book, not official statistics.

/// A district (or, for Dongguan, a town-level area) and its 6-digit administrative code.
pub struct District {
    pub name: &'static str,
    pub code: u32,
}

pub struct City {
    pub name: &'static str,
    /// Relative share of customers.
    pub weight: u32,
    pub districts: &'static [District],
    pub roads: &'static [&'static str],
    /// Typical home value range in units of 10,000 yuan (万元).
    pub property_wan: (i64, i64),
}

const fn d(name: &'static str, code: u32) -> District {
    District { name, code }
}

pub const CITIES: &[City] = &[
    City {
        name: "成都",
        weight: 12,
        districts: &[
            d("锦江区", 510104),
            d("青羊区", 510105),
            d("金牛区", 510106),
            d("武侯区", 510107),
        ],
        roads: &[
            "东大街",
            "春熙路",
            "人民南路",
            "蜀都大道",
            "红星路",
            "天府大道",
            "建设路",
        ],
        property_wan: (80, 400),
    },
    City {
        name: "重庆",
        weight: 11,
        districts: &[
            d("渝中区", 500103),
            d("江北区", 500105),
            d("南岸区", 500108),
            d("渝北区", 500112),
        ],
        roads: &[
            "民权路",
            "中山三路",
            "建新北路",
            "杨家坪正街",
            "南坪东路",
            "金开大道",
        ],
        property_wan: (60, 300),
    },
    City {
        name: "北京",
        weight: 6,
        districts: &[
            d("东城区", 110101),
            d("西城区", 110102),
            d("朝阳区", 110105),
            d("海淀区", 110108),
        ],
        roads: &[
            "东长安街",
            "王府井大街",
            "朝阳门北大街",
            "建国路",
            "中关村大街",
            "学院路",
        ],
        property_wan: (300, 1500),
    },
    City {
        name: "上海",
        weight: 6,
        districts: &[
            d("黄浦区", 310101),
            d("徐汇区", 310104),
            d("长宁区", 310105),
            d("浦东新区", 310115),
        ],
        roads: &[
            "南京东路",
            "淮海中路",
            "肇嘉浜路",
            "延安西路",
            "世纪大道",
            "张杨路",
        ],
        property_wan: (300, 1500),
    },
    City {
        name: "广州",
        weight: 7,
        districts: &[
            d("越秀区", 440104),
            d("海珠区", 440105),
            d("天河区", 440106),
            d("白云区", 440111),
        ],
        roads: &[
            "环市东路",
            "中山五路",
            "天河路",
            "体育西路",
            "江南大道",
            "广州大道",
        ],
        property_wan: (200, 900),
    },
    City {
        name: "深圳",
        weight: 7,
        districts: &[
            d("罗湖区", 440303),
            d("福田区", 440304),
            d("南山区", 440305),
            d("宝安区", 440306),
        ],
        roads: &[
            "深南大道",
            "人民南路",
            "福华路",
            "南海大道",
            "宝安大道",
            "建设路",
        ],
        property_wan: (300, 1500),
    },
    City {
        name: "杭州",
        weight: 5,
        districts: &[
            d("上城区", 330102),
            d("拱墅区", 330105),
            d("西湖区", 330106),
            d("滨江区", 330108),
        ],
        roads: &[
            "延安路",
            "解放路",
            "文三路",
            "莫干山路",
            "江南大道",
            "庆春路",
        ],
        property_wan: (200, 800),
    },
    City {
        name: "武汉",
        weight: 6,
        districts: &[
            d("江岸区", 420102),
            d("江汉区", 420103),
            d("武昌区", 420106),
            d("洪山区", 420111),
        ],
        roads: &[
            "解放大道",
            "中山大道",
            "中南路",
            "珞喻路",
            "武珞路",
            "建设大道",
        ],
        property_wan: (100, 450),
    },
    City {
        name: "西安",
        weight: 6,
        districts: &[
            d("新城区", 610102),
            d("碑林区", 610103),
            d("莲湖区", 610104),
            d("雁塔区", 610113),
        ],
        roads: &[
            "东大街",
            "南大街",
            "长安北路",
            "小寨东路",
            "莲湖路",
            "解放路",
        ],
        property_wan: (80, 350),
    },
    City {
        name: "长沙",
        weight: 6,
        districts: &[
            d("芙蓉区", 430102),
            d("天心区", 430103),
            d("岳麓区", 430104),
            d("开福区", 430105),
        ],
        roads: &[
            "五一大道",
            "芙蓉中路",
            "解放西路",
            "韶山北路",
            "麓山南路",
            "湘江中路",
        ],
        property_wan: (70, 300),
    },
    City {
        name: "郑州",
        weight: 6,
        districts: &[
            d("中原区", 410102),
            d("二七区", 410103),
            d("金水区", 410105),
        ],
        roads: &["金水路", "花园路", "中原路", "建设路", "二七路", "经三路"],
        property_wan: (60, 300),
    },
    City {
        name: "南京",
        weight: 4,
        districts: &[
            d("玄武区", 320102),
            d("秦淮区", 320104),
            d("建邺区", 320105),
            d("鼓楼区", 320106),
        ],
        roads: &[
            "中山路",
            "中山东路",
            "汉中路",
            "江东中路",
            "北京西路",
            "太平南路",
        ],
        property_wan: (150, 700),
    },
    City {
        name: "苏州",
        weight: 4,
        districts: &[
            d("虎丘区", 320505),
            d("吴中区", 320506),
            d("相城区", 320507),
            d("姑苏区", 320508),
        ],
        roads: &[
            "人民路",
            "干将路",
            "东环路",
            "苏州大道",
            "金鸡湖大道",
            "长江路",
        ],
        property_wan: (120, 600),
    },
    City {
        name: "天津",
        weight: 4,
        districts: &[
            d("和平区", 120101),
            d("河东区", 120102),
            d("河西区", 120103),
            d("南开区", 120104),
        ],
        roads: &["南京路", "卫津路", "解放北路", "友谊路", "黄河道"],
        property_wan: (100, 500),
    },
    City {
        name: "合肥",
        weight: 4,
        districts: &[
            d("瑶海区", 340102),
            d("庐阳区", 340103),
            d("蜀山区", 340104),
            d("包河区", 340111),
        ],
        roads: &[
            "长江中路",
            "淮河路",
            "芜湖路",
            "金寨路",
            "徽州大道",
            "望江西路",
        ],
        property_wan: (80, 400),
    },
    City {
        name: "昆明",
        weight: 3,
        districts: &[
            d("五华区", 530102),
            d("盘龙区", 530103),
            d("官渡区", 530111),
            d("西山区", 530112),
        ],
        roads: &[
            "东风西路",
            "北京路",
            "人民中路",
            "青年路",
            "滇池路",
            "金碧路",
        ],
        property_wan: (60, 300),
    },
    City {
        name: "济南",
        weight: 3,
        districts: &[
            d("历下区", 370102),
            d("市中区", 370103),
            d("槐荫区", 370104),
            d("天桥区", 370105),
        ],
        roads: &["泉城路", "经十路", "经七路", "解放路", "历山路", "明湖路"],
        property_wan: (80, 400),
    },
    City {
        name: "青岛",
        weight: 3,
        districts: &[
            d("市南区", 370202),
            d("市北区", 370203),
            d("崂山区", 370212),
            d("李沧区", 370213),
        ],
        roads: &[
            "香港中路",
            "中山路",
            "延安三路",
            "辽阳西路",
            "台东一路",
            "李村路",
        ],
        property_wan: (100, 500),
    },
    City {
        name: "东莞",
        weight: 4,
        // Dongguan has no districts: every town shares the prefecture code 441900.
        districts: &[
            d("南城街道", 441900),
            d("东城街道", 441900),
            d("莞城街道", 441900),
            d("虎门镇", 441900),
        ],
        roads: &[
            "东城大道",
            "鸿福路",
            "莞太路",
            "虎门大道",
            "宏图路",
            "运河东一路",
        ],
        property_wan: (100, 450),
    },
    City {
        name: "佛山",
        weight: 3,
        districts: &[
            d("禅城区", 440604),
            d("南海区", 440605),
            d("顺德区", 440606),
        ],
        roads: &[
            "季华路",
            "汾江中路",
            "祖庙路",
            "桂澜路",
            "南海大道",
            "乐从大道",
        ],
        property_wan: (100, 450),
    },
];

/// Two-character brand names are built from these.
pub const BRAND_CHARS: &[&str] = &[
    "瑞", "丰", "鑫", "盛", "华", "泰", "恒", "达", "宏", "远", "博", "众", "兴", "隆", "佳", "源",
    "创", "汇", "德", "安", "嘉", "锦", "诚", "信", "新", "明", "天", "宇", "金", "海", "鼎", "腾",
    "峰", "骏", "益", "和", "润", "晟", "昊", "康",
];

pub const INDUSTRIES: &[&str] = &[
    "科技",
    "商贸",
    "餐饮管理",
    "建筑工程",
    "物流",
    "装饰工程",
    "电子",
    "食品",
    "服装",
    "文化传媒",
];

pub const CHANNELS: &[(&str, u32)] = &[
    ("抖音广告", 22),
    ("百度推广", 12),
    ("微信朋友圈", 12),
    ("老客户转介绍", 10),
    ("同行转介", 8),
    ("地推", 8),
    ("官网表单", 6),
    ("电话营销", 12),
    ("58同城", 6),
    ("线下门店", 4),
];

/// Funnel stages with the share (‰) of a mature book sitting in each.
pub const STAGES: &[(&str, u32)] = &[
    ("lead", 340),
    ("contacted", 200),
    ("qualified", 120),
    ("invited", 70),
    ("visited", 50),
    ("signed", 30),
    ("won", 40),
    ("lost", 90),
    ("invalid", 60),
];

pub const OCCUPATIONS: &[(&str, u32)] = &[
    ("employee", 45),
    ("business_owner", 20),
    ("self_employed", 20),
    ("civil_servant", 5),
    ("freelancer", 10),
];

pub const PURPOSES: &[(&str, u32)] = &[
    ("经营周转", 30),
    ("资金周转", 20),
    ("装修", 10),
    ("消费", 10),
    ("购车", 6),
    ("进货", 6),
    ("还信用卡", 6),
    ("债务置换", 4),
    ("结婚", 3),
    ("教育", 3),
    ("医疗", 2),
];

/// Loan terms in months; 120 only makes sense for mortgage-backed products.
pub const TERMS_UNSECURED: &[(u32, u32)] = &[(12, 30), (24, 25), (36, 35), (60, 10)];
pub const TERMS_SECURED: &[(u32, u32)] = &[(12, 10), (24, 10), (36, 25), (60, 25), (120, 30)];

/// Age bands (inclusive lower, exclusive upper) with their share of applicants.
pub const AGE_BANDS: &[((u32, u32), u32)] = &[
    ((20, 25), 6),
    ((25, 30), 16),
    ((30, 35), 22),
    ((35, 40), 20),
    ((40, 45), 15),
    ((45, 50), 10),
    ((50, 55), 7),
    ((55, 61), 4),
];
/// Bounds of AGE_BANDS, used to size the ID-uniqueness table.
pub const MIN_AGE: u32 = 20;
pub const MAX_AGE: u32 = 61;

pub const BANKS: &[&str] = &[
    "招商银行",
    "建设银行",
    "工商银行",
    "农业银行",
    "中国银行",
    "交通银行",
    "平安银行",
    "浦发银行",
    "中信银行",
    "光大银行",
    "民生银行",
    "兴业银行",
    "邮储银行",
    "微众银行",
    "网商银行",
    "农商银行",
];

pub const WEEKDAYS: &[&str] = &[
    "周一",
    "周二",
    "周三",
    "周四",
    "周五",
    "周六",
    "明天",
    "后天",
    "下周一",
];

pub const TIMES_OF_DAY: &[&str] = &[
    "上午10点",
    "上午11点",
    "下午2点",
    "下午3点",
    "下午3点半",
    "下午4点",
    "晚上7点",
];

pub const REJECT_REASONS: &[&str] = &[
    "征信查询次数过多",
    "负债率过高",
    "流水不足",
    "工作单位不在准入名单",
    "房龄过长",
    "有当前逾期",
];

pub const CREDIT_URGENCY: &[&str] = &[
    "这周就要用钱",
    "月底前要到账",
    "不着急，先了解一下",
    "想尽快办，货款等着付",
    "银行那边贷款快到期了，要过桥",
];

/// Hour of day (China time) at which leads arrive and calls are made.
pub const HOURS: &[(u32, u32)] = &[
    (8, 3),
    (9, 8),
    (10, 12),
    (11, 11),
    (12, 6),
    (13, 6),
    (14, 10),
    (15, 11),
    (16, 10),
    (17, 7),
    (18, 5),
    (19, 5),
    (20, 4),
    (21, 2),
];
