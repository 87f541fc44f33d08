"""Scripts composed from parts: an emergency's words in a frame that is not an emergency,
and pranks that claim the absurd.

A call-taker's hardest negatives are calm callers who *mention* a fire, a fight or an
earthquake: it happened last year, it was on television, it is a drill next week, the
caller asks what to do if it ever happens, or cancels a report. Each emergency category
has an :class:`Incident` (how a caller names it and says it happened, in the past), and
each :data:`NORMAL_FRAMES` entry puts one incident into such a frame; the result is an
everyday (``normal_*``) script whose words are full of the category's vocabulary. Subtle
pranks (:data:`ABSURD_CLAIMS`) claim an emergency that cannot be true, with no joke word.

Every composed script becomes a :class:`synth.scripts.Template` like the hand-written ones,
so it has one split, and its slots are filled the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class Incident:
    """How a caller speaks of one category's emergency when it is not happening now.

    ``noun``: the incident named (a noun phrase that takes no particle, e.g. "화재");
    ``past``: a clause in the past tense up to its final ending, to which ``는데요``,
    ``어요`` or ``다고`` attach (e.g. "불이 났었" → 불이 났었는데요).
    """

    noun: str
    past: str


INCIDENTS: Mapping[str, Incident] = {
    "sexual_assault": Incident("성추행 사건", "이상한 남자가 여자들 뒤를 따라다녔었"),
    "robbery": Incident("강도 사건", "편의점에 강도가 들었었"),
    "theft": Incident("빈집털이", "옆집에 도둑이 들었었"),
    "violence": Incident("폭행 사건", "술집 앞에서 큰 싸움이 났었"),
    "trapped": Incident("엘리베이터 갇힘 사고", "엘리베이터가 멈춰서 사람이 갇혔었"),
    "electrical": Incident("누전 사고", "전기가 합선돼서 정전이 됐었"),
    "gas": Incident("가스 누출", "가스가 새서 다들 대피했었"),
    "fire": Incident("화재", "아랫집에서 불이 났었"),
    "medical": Incident("심장마비", "할아버지가 갑자기 쓰러지셨었"),
    "storm": Incident("태풍 피해", "태풍 때문에 지하가 물에 잠겼었"),
    "earthquake": Incident("지진", "지진이 나서 건물이 흔들렸었"),
    "fall": Incident("추락 사고", "공사장에서 사람이 떨어졌었"),
    "collapse": Incident("붕괴 사고", "공사장 담벼락이 무너졌었"),
    "help_request": Incident("실종 사건", "동네 아이가 길을 잃어서 찾았었"),
}

#: Everyday frames around an incident: ``{noun}`` and ``{past}`` are the category's
#: :class:`Incident` parts; other ``{slot}`` markers are filled as in any template. Each
#: frame is (normal category, caller lines).
NORMAL_FRAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("normal_indoor", ("{day} 우리 건물에서 {past}는데요.", "지금은 다 정리됐고 다친 사람도 없어요.",
                       "보험 때문에 확인서를 받으려면 어디로 가야 하나요?")),
    ("normal_indoor", ("아까 뉴스에서 {noun} 소식 보고 너무 놀랐어요.", "우리 동네 얘기는 아니고요.",
                       "집에서 미리 해 둘 게 있을까 해서 전화드렸어요.")),
    ("normal_indoor", ("어제 본 드라마에 {noun} 장면이 나왔는데 진짜 실감 나더라.",
                       "배우들 연기가 장난 아니었어.", "다음 주에 마지막 회 같이 보자.")),
    ("normal_outdoor", ("다음 주 {weekday}에 {noun} 대비 훈련을 한다고 들었어요.",
                        "그날 사이렌이 울려도 놀라지 말라고 하던데요.", "몇 시쯤 시작하는지 알 수 있을까요?")),
    ("normal_indoor", ("혹시 {noun} 같은 일이 생기면 어떻게 해야 하는지 궁금해서요.",
                       "지금 무슨 일이 있는 건 아니에요.", "그냥 아이들한테 미리 가르쳐 주려고요.")),
    ("normal_outdoor", ("아까 {noun} 때문에 신고했던 사람인데요.", "다시 보니까 제가 잘못 본 거였어요.",
                        "출동 안 하셔도 될 것 같아요, 죄송합니다.")),
    ("normal_outdoor", ("지난달에 {dong}에서 {past}다고 들었거든요.", "요즘 밤길이 좀 불안해서요.",
                        "순찰을 조금 더 돌아 주실 수 있나 해서 전화했어요.")),
    ("normal_indoor", ("야 나 {day} 진짜 놀랐잖아.", "{past}거든.", "다행히 아무도 안 다쳤어, 걱정하지 마.")),
    ("normal_indoor", ("작년에 {past}어요.", "그 뒤로 그런 일은 한 번도 없었어요.",
                       "그래도 점검을 한번 받고 싶은데 신청은 어떻게 해요?")),
    ("normal_outdoor", ("게임에서 {noun} 이벤트가 떴는데 너무 어렵다.", "아까 세 판이나 졌어.",
                        "저녁 먹고 다시 해 보자.")),
    ("normal_indoor", ("학교 숙제로 {noun} 예방에 대해 조사하고 있어요.", "통계 자료는 어디서 볼 수 있나요?",
                       "급한 건 아니라서 천천히 알려 주셔도 돼요.")),
    ("normal_outdoor", ("{day} {past}는데 금방 해결됐어요.", "그때 와 주신 분들께 감사 인사 드리고 싶어서요.",
                        "정말 고마웠다고 전해 주세요.")),
)

#: Subtle pranks: claims of an emergency that cannot be true, said without a joke word,
#: by the category the prankster names.
ABSURD_CLAIMS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "help_request": (
        ("우리 집 마당에 외계인이 내려왔어요.", "초록색이고 눈이 세 개예요.", "빨리 와서 잡아 가세요."),
        ("제 동생이 갑자기 투명 인간이 됐어요.", "목소리는 들리는데 안 보여요.", "어떻게 해요?"),
    ),
    "violence": (
        ("동네에 좀비들이 돌아다니면서 사람을 물어요.", "{landmark}[이에요].", "군대 좀 보내 주세요."),
        ("옆집 고양이가 저를 째려보면서 위협해요.", "너무 무섭게 생겼어요.", "경찰 출동시켜 주세요."),
    ),
    "theft": (
        ("우리 집 강아지가 제 용돈을 훔쳐 갔어요.", "지금 소파 밑에 숨어 있어요.", "체포해 주세요."),
        ("누가 하늘의 달을 훔쳐 간 것 같아요.", "아까까지 있었는데 없어졌어요.", "수사 좀 해 주세요."),
    ),
    "trapped": (
        ("산타 할아버지가 우리 집 굴뚝에 끼었어요.", "선물 자루 때문에 못 내려와요.", "소방차 보내 주세요."),
        ("제가 냉장고 안에 갇혔어요.", "아이스크림 먹으러 들어왔다가요.", "{apt}[이에요]."),
    ),
    "fire": (
        ("우리 집 라면 물이 너무 뜨거워서 불날 것 같아요.", "김이 엄청 나요.", "소방차 좀 보내 주세요."),
        ("하늘에서 용이 불을 뿜고 있어요.", "{mountain} 쪽으로 날아가요.", "빨리 와 주세요."),
    ),
    "earthquake": (
        ("제가 점프했더니 지진이 난 것 같아요.", "바닥이 울렸어요.", "대피해야 돼요?"),
    ),
    "storm": (
        ("우리 집 욕조에 태풍이 생겼어요.", "물이 빙글빙글 돌아요.", "헬기 보내 주세요."),
    ),
    "medical": (
        ("제 곰 인형이 숨을 안 쉬어요.", "심폐소생술 해야 되나요?", "구급차 보내 주세요."),
    ),
    "robbery": (
        ("비둘기 떼가 제 과자를 강탈해 갔어요.", "{park}에서요.", "범인들 아직 근처에 있어요."),
    ),
    "gas": (
        ("동생 방귀 냄새가 가스 새는 것 같아요.", "창문 다 열었는데도 나요.", "가스 회사 불러 주세요."),
    ),
    "electrical": (
        ("제 머리카락에서 정전기가 나요.", "감전될 것 같아요.", "전기 기사님 보내 주세요."),
    ),
    "fall": (
        ("제 아이스크림이 바닥에 떨어졌어요.", "완전히 다 녹았어요.", "구조대 보내 주세요."),
    ),
    "collapse": (
        ("제가 만든 모래성이 무너졌어요.", "{beach}[이에요].", "복구 좀 도와주세요."),
    ),
    "sexual_assault": (
        ("비둘기가 자꾸 저를 따라와요.", "{park}에서 계속 쫓아와요.", "경찰 좀 보내 주세요."),
    ),
}


#: Incidents each frame is composed with: enough for every category's words to appear in
#: several frames, few enough that everyday talk without any incident stays common.
INCIDENTS_PER_FRAME = 5


def normal_scripts() -> dict[str, list[tuple[str, ...]]]:
    """{normal category: [caller lines, …]}: frame ``i`` of :data:`NORMAL_FRAMES` with the
    :data:`INCIDENTS_PER_FRAME` incidents from index ``i ·`` :data:`INCIDENTS_PER_FRAME`
    on (wrapping round), in a fixed order."""
    incidents = list(INCIDENTS.values())
    scripts: dict[str, list[tuple[str, ...]]] = {}
    for index, (category, frame) in enumerate(NORMAL_FRAMES):
        first = index * INCIDENTS_PER_FRAME
        for offset in range(INCIDENTS_PER_FRAME):
            incident = incidents[(first + offset) % len(incidents)]
            lines = tuple(line.replace("{noun}", incident.noun)
                          .replace("{past}", incident.past) for line in frame)
            scripts.setdefault(category, []).append(lines)
    return scripts
