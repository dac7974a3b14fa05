"""Reference data every service may show: the programme ids and their display names.

Eligibility owns the rules; this list only names the programmes so that messages and screens can say what
an application is for. tests/contracts checks that every rule pack's id is listed here.
"""

from __future__ import annotations

PROGRAMME_TITLES: dict[str, tuple[str, str]] = {
    # talent pathways (人社部发〔2020〕96号 and provincial measures)
    "talent.skilled-worker-title": ("高技能人才参加职称评审", "Skilled worker applying for a professional title"),
    "talent.title-holder-skill-evaluation": (
        "专业技术人才参加职业技能评价",
        "Title holder applying for skill evaluation",
    ),
    # Hunan social-insurance subsidies (湘人社规〔2020〕22号; 湘人社规〔2020〕4号 before 2021)
    "hn.si-subsidy.employer-hard-to-employ": (
        "企业吸纳就业困难人员社会保险补贴",
        "SI subsidy for hiring hard-to-employ persons",
    ),
    "hn.si-subsidy.small-firm-graduate": (
        "小微企业吸纳高校毕业生社会保险补贴",
        "SI subsidy for small firms hiring graduates",
    ),
    "hn.si-subsidy.flexible-hard-to-employ": (
        "就业困难人员灵活就业社会保险补贴",
        "SI subsidy for hard-to-employ flexible workers",
    ),
    "hn.si-subsidy.flexible-graduate": ("高校毕业生灵活就业社会保险补贴", "SI subsidy for graduate flexible workers"),
    "hn.public-welfare-post": ("公益性岗位补贴", "Public-welfare-post subsidy"),
    "hn.fisherman-pension-subsidy": ("退捕渔民养老保险补贴", "Pension subsidy for fishermen who left fishing"),
    # Hunan employment subsidies
    "hn.one-off-hiring-subsidy": ("一次性吸纳就业补贴", "One-off hiring subsidy"),
    "hn.one-off-post-subsidy": ("一次性岗位补贴", "One-off post subsidy"),
    "hn.on-the-job-training-subsidy": ("以工代训补贴", "On-the-job training subsidy"),
    "hn.internship-subsidy": ("就业见习补贴（湖南）", "Internship subsidy (Hunan)"),
    "sx.internship-subsidy": ("就业见习补贴（山西）", "Internship subsidy (Shanxi)"),
    "hn.unemployment-assistance": ("失业补助金", "Unemployment assistance"),
    "hn.vocational-training-subsidy": ("职业培训补贴", "Vocational training subsidy"),
    "hn.skill-appraisal-subsidy": ("职业技能鉴定补贴", "Skill appraisal subsidy"),
    "hn.job-retention-refund": ("失业保险稳岗返还", "Job-retention refund of unemployment insurance"),
    "hn.job-retention-refund.difficulty": ("困难企业稳岗返还", "Job-retention refund for enterprises in difficulty"),
}


def title_zh(programme_id: str) -> str:
    return PROGRAMME_TITLES.get(programme_id, (programme_id, programme_id))[0]
